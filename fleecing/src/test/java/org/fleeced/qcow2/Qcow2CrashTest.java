package org.fleeced.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Kills a writing JVM ({@link Qcow2CrashWriter}) at random points (after a random number of
 * output lines), several rounds on one image. After each kill: {@code qemu-img check} finds no
 * corruption (exit 0, or 3 for leaks), our own open succeeds, and every write that was followed
 * by an acknowledged flush reads back exactly, unless a later operation (acknowledged or begun)
 * overlaps it. With lazy refcounts a crashed image is dirty; our open repairs it, then qemu-img
 * checks it.
 */
@Timeout(150)
class Qcow2CrashTest {
    private static final int ROUNDS = 4;

    @TempDir
    Path dir;

    /** One operation the writer began: kind W, Z or D. */
    private record Op(long seq, char kind, long offset, int length) {
        boolean overlaps(Op o) {
            return offset < o.offset + o.length && o.offset < offset + length;
        }
    }

    @ParameterizedTest(name = "lazy refcounts {0}")
    @ValueSource(booleans = {false, true})
    void acknowledgedFlushedWritesSurviveKills(boolean lazy) throws Exception {
        QemuTools.assumeQemuImg();
        Path image = dir.resolve("crash.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(32L << 20).withClusterSize(4096).withLazyRefcounts(lazy));
        Random random = new Random(lazy ? 77 : 78);
        List<Op> begun = new ArrayList<>();
        List<Op> durable = new ArrayList<>();
        for (int round = 0; round < ROUNDS; round++) {
            long firstSeq = (round + 1) * 1_000_000L;
            int killAfterLines = 20 + random.nextInt(300);
            String where = "lazy " + lazy + " round " + round + " kill after " + killAfterLines + " lines";
            runAndKill(image, firstSeq, killAfterLines, begun, durable);
            if (!lazy) {
                assertCheckHasNoErrors(image, where);
            }
            verify(image, begun, durable, where);
            assertCheckHasNoErrors(image, where + " (after our open)");
        }
        assertTrue(!durable.isEmpty(), "no flush was acknowledged in any round");
    }

    private static void assertCheckHasNoErrors(Path image, String where) throws Exception {
        QemuTools.Result check = QemuTools.run("qemu-img", "check", image.toString());
        assertTrue(check.exitCode() == 0 || check.exitCode() == 3, where + ": qemu-img check:\n" + check.output());
    }

    private static void runAndKill(Path image, long firstSeq, int killAfterLines, List<Op> begun, List<Op> durable)
            throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Qcow2CrashWriter.class.getName(), image.toString(),
                Long.toString(firstSeq))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        List<Op> round = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII))) {
            String line;
            int lines = 0;
            while ((line = in.readLine()) != null) {
                if (++lines == killAfterLines) {
                    // SIGKILL through the handle: unlike Process.destroyForcibly it leaves the
                    // pipe open, so the lines the writer printed before dying are still read.
                    p.toHandle().destroyForcibly();
                }
                String[] f = line.split(" ");
                if (f[0].equals("B") && f.length == 5) {
                    round.add(new Op(Long.parseLong(f[1]), f[2].charAt(0), Long.parseLong(f[3]), Integer.parseInt(f[4])));
                } else if (f[0].equals("F") && f.length == 2) {
                    long upTo = Long.parseLong(f[1]);
                    round.stream().filter(o -> o.kind() == 'W' && o.seq() <= upTo && !durable.contains(o)).forEach(durable::add);
                }
            }
        } finally {
            p.destroyForcibly();
            p.waitFor(30, TimeUnit.SECONDS);
        }
        begun.addAll(round);
    }

    private static void verify(Path image, List<Op> begun, List<Op> durable, String where) throws Exception {
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            for (Op w : durable) {
                boolean overwritten = begun.stream().anyMatch(o -> o.seq() > w.seq() && o.overlaps(w));
                if (overwritten) {
                    continue;
                }
                byte[] actual = new byte[w.length()];
                node.read(w.offset(), ByteBuffer.wrap(actual));
                assertArrayEquals(Qcow2ImageFiles.pattern(w.length(), w.seq()), actual, where + ": durable write " + w + " lost");
            }
        }
    }
}
