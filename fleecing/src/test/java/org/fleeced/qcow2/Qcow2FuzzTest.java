package org.fleeced.qcow2;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The qcow2 fuzzer in the unit tests: the same cases every run from a fixed seed, as many again
 * from a seed drawn for this run and shown in the test's name, and the cases that once failed.
 * A failure's report names its case seed; {@code bench/fuzz-qcow2.sh --case SEED} repeats it
 * (and saves the image), {@code bench/fuzz-qcow2.sh} runs for as long as asked.
 * {@code -Dqcow2.fuzz.cases=N} changes the count per seed.
 */
class Qcow2FuzzTest {
    private static final Logger LOG = Logger.getLogger(Qcow2FuzzTest.class.getName());
    private static final long FIXED_SEED = 0x13_f022_0001L;
    private static final long CASES = Long.getLong("qcow2.fuzz.cases", 750);
    /** Far beyond any case (they take milliseconds): only a hang reaches it. */
    private static final Duration CASE_TIMEOUT = Duration.ofSeconds(120);

    @TempDir
    static Path fallback;
    private static Path dir;
    private static Qcow2Fuzzer fuzzer;

    @BeforeAll
    static void makeBaseImages() throws Exception {
        dir = Files.createTempDirectory(Qcow2Fuzzer.scratchParent(fallback), "qcow2-fuzz");
        fuzzer = new Qcow2Fuzzer(Qcow2BaseImages.create(dir, true), CASE_TIMEOUT);
    }

    @AfterAll
    static void removeImages() throws Exception {
        Qcow2Fuzzer.deleteTree(dir);
    }

    static Stream<Arguments> seeds() {
        return Stream.of(Arguments.of("fixed", FIXED_SEED), Arguments.of("random", new SplittableRandom().nextLong()));
    }

    /**
     * Cases the drawn seed once failed on, each the bug it found: a truncated file whose L2 table
     * still maps clusters its refcounts count past the end (allocation handed them out again); a
     * compressed cluster said to span a bitmap table (freeing it let the table's cluster go to
     * guest data); an L1 entry naming the bitmap directory as an L2 table (a store freed the
     * directory's cluster that the L2 table still used). A case seed replays its case while the
     * base images and the mutators stay as they are; the direct tests of these bugs are in
     * {@link Qcow2HostileImageTest}.
     */
    @ParameterizedTest(name = "case {0}")
    @ValueSource(longs = {-4663280770293751125L, -6047048466470430302L, 5070934931498200371L, -7153932495781220206L,
            -7555011080974867535L, 7459435327580842752L})
    void casesThatOnceFailedPass(long caseSeed) throws Exception {
        Qcow2Fuzzer.Result r = fuzzer.runCase(caseSeed);
        if (r.failure() != null) {
            fail(r.failure().report());
        }
    }

    @ParameterizedTest(name = "{0} seed {1}")
    @MethodSource("seeds")
    void casesKeepEveryInvariant(String kind, long seed) throws Exception {
        Qcow2Fuzzer.Stats stats = fuzzer.run(seed, CASES, Duration.ofDays(1), true);
        LOG.info(kind + " seed " + seed + ": " + stats);
        if (!stats.failures.isEmpty()) {
            fail("qcow2 fuzzer, run seed " + seed + ":\n" + stats.failures.get(0).report());
        }
        assertTrue(stats.openedReadWrite > 0 && stats.refusedBoth > 0, "the mutations reach both outcomes: " + stats);
    }
}
