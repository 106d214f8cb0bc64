package org.fleeced.daemon.nbd.fuzz;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.server.NbdServerStats;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Structure-aware fuzzing of the NBD server (issue #13, point 7): seeded sessions (handshake,
 * options, requests with payloads) with mutated fields, truncations, garbage and oversized
 * lengths, fed in odd-sized slices to the frame decoder alone and over TCP to a server with real
 * export nodes ({@link NbdFuzzServer}). Invariants, per case:
 *
 * <ul>
 *   <li>only clean protocol errors or a closed connection: no exception is logged with a stack
 *       trace (a bug in a request becomes one), none escapes a thread, none leaves the decoder,
 *       and every node call keeps the node contract (the contract checker throws otherwise);</li>
 *   <li>never a hang: once the client stops sending, the server closes the connection;</li>
 *   <li>memory bounded: when the connection is gone, the server holds no in-flight bytes.</li>
 * </ul>
 *
 * A few thousand cases run with the unit tests from a fixed seed; {@code bench/fuzz-nbd.sh SEED
 * SECONDS} runs for as long as asked ({@code -Dfuzz.seed}, {@code -Dfuzz.cases},
 * {@code -Dfuzz.seconds}; {@code -Dfuzz.case=CASE_SEED} replays one case). The seed is logged.
 */
class NbdFuzzTest {
    private static final Logger LOG = Logger.getLogger("fleeced.fuzz.NbdFuzzTest");
    private static final long DEFAULT_SEED = 0x13_07_2026L;

    @TempDir
    Path dir;

    /** Log records and uncaught exceptions that break the "clean errors only" invariant. */
    private final List<String> faults = new CopyOnWriteArrayList<>();

    @Test
    @Timeout(value = 15, unit = TimeUnit.MINUTES) // a hang fails here instead of holding the whole build
    void hostileStreamsGetCleanErrorsOrACloseNeverAnExceptionOrAHang() throws Exception {
        long seed = Long.getLong("fuzz.seed", DEFAULT_SEED);
        long cases = Long.getLong("fuzz.cases", 2000);
        long seconds = Long.getLong("fuzz.seconds", 0);
        Long only = Long.getLong("fuzz.case");
        LOG.info("NBD fuzz: seed " + seed + (seconds > 0 ? ", for " + seconds + " s" : ", " + cases + " cases")
                + (only != null ? ", only case " + only : ""));
        Random seeds = new Random(seed);
        Logger nbdLog = Logger.getLogger("org.fleeced.daemon.nbd");
        Handler watcher = watcher();
        Logger.getLogger("").addHandler(watcher);
        nbdLog.addHandler(watcher);
        nbdLog.setUseParentHandlers(false);
        Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
        Thread.setDefaultUncaughtExceptionHandler((thread, e) -> faults.add("uncaught in " + thread + ": " + e));
        long run = 0;
        long answered = 0;
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        String summary;
        try (NbdFuzzServer target = new NbdFuzzServer(dir)) {
            while (only != null ? run < 1 : seconds > 0 ? System.nanoTime() < deadline : run < cases) {
                NbdFuzzCase fuzzCase = new NbdFuzzCase(only != null ? only : seeds.nextLong());
                if (only != null) {
                    LOG.info("case " + only + ": " + fuzzCase.describe());
                }
                try {
                    fuzzCase.decode();
                } catch (RuntimeException e) {
                    throw new AssertionError("case " + fuzzCase.seed() + ": the decoder threw " + e, e);
                }
                answered += fuzzCase.send(target.port);
                NbdServerStats stats = target.server.stats();
                await().alias("case " + fuzzCase.seed() + ": connection closed and its bytes released")
                        .atMost(Duration.ofMillis(NbdFuzzCase.HANG_MILLIS)).pollDelay(Duration.ZERO)
                        .pollInterval(Duration.ofMillis(1))
                        .untilAsserted(() -> assertEquals("0 connections, 0 bytes in flight, faults []",
                                stats.activeConnections() + " connections, " + target.server.inFlightBytes()
                                        + " bytes in flight, faults " + faults));
                assertEquals(List.of(), faults, "case " + fuzzCase.seed() + " (seed " + seed + ")");
                run++;
                if (run % 10_000 == 0) {
                    LOG.info("NBD fuzz: " + run + " cases");
                }
            }
            summary = summary(target.server.stats());
        } finally {
            Thread.setDefaultUncaughtExceptionHandler(previous);
            nbdLog.setUseParentHandlers(true);
            nbdLog.removeHandler(watcher);
            Logger.getLogger("").removeHandler(watcher);
        }
        LOG.info("NBD fuzz: seed " + seed + ", " + run + " cases, " + answered + " bytes answered, no fault; " + summary);
    }

    /** What the cases reached: handshakes that failed, requests per command, error replies. */
    private static String summary(NbdServerStats stats) {
        StringBuilder text = new StringBuilder().append(stats.connectionsAccepted()).append(" connections, ")
                .append(stats.handshakeFailures()).append(" failed handshakes, requests:");
        for (NbdCommand command : NbdCommand.values()) {
            text.append(' ').append(command).append('=').append(stats.requests(command));
        }
        return text.append(", ").append(stats.errorReplies()).append(" error replies").toString();
    }

    private Handler watcher() {
        return new Handler() {
            @Override
            public void publish(LogRecord record) {
                if (record.getThrown() != null || record.getLevel().intValue() >= Level.SEVERE.intValue()) {
                    faults.add(record.getLoggerName() + ": " + record.getMessage() + (record.getThrown() == null ? ""
                            : " " + record.getThrown()));
                }
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
    }
}
