package org.fleeced.tracking;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IntentLogTest {
    private static final long GIB = 1L << 30;
    private static final int REGION_BITS = 20;
    @TempDir
    Path dir;

    @Test
    void marksSurviveAnUncleanStopAndCoverEveryMarkedByte() throws Exception {
        Path file = dir.resolve("disk.qcow2.fleeced-intent");
        long size = 10 * GIB + 12345;
        IntentLog log = IntentLog.create(file, size, REGION_BITS, 42);
        Random random = new Random(7);
        List<long[]> written = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            long offset = random.nextLong(size - 1);
            long length = 1 + random.nextLong(Math.min(size - offset, 8 << 20));
            log.mark(offset, length).close();
            written.add(new long[] {offset, length});
        }
        log.mark(size - 1, 1).close();
        written.add(new long[] {size - 1, 1});
        log.close();

        RecoveredIntents recovered = IntentLogReader.recover(file, size, 42);
        assertNotNull(recovered);
        for (long[] w : written) {
            assertTrue(covers(recovered, w[0], w[1]), "seed 7: [" + w[0] + ", +" + w[1] + ") not covered");
        }
        List<long[]> ranges = ranges(recovered);
        assertTrue(ranges.getLast()[0] + ranges.getLast()[1] <= size, "a range runs past the image");
    }

    @Test
    void aSidecarOfAnotherImageIsNotTrusted() throws Exception {
        Path file = dir.resolve("x.fleeced-intent");
        IntentLog.create(file, GIB, REGION_BITS, 1).close();
        assertNull(IntentLogReader.recover(file, GIB, 2));
        assertNull(IntentLogReader.recover(file, 2 * GIB, 1));
        assertNull(IntentLogReader.recover(dir.resolve("missing"), GIB, 1));
        Files.writeString(file, "garbage");
        assertNull(IntentLogReader.recover(file, GIB, 1));
    }

    @Test
    void aSwitchThatFailedInItsCarryOverLeavesItsEpochToBeRetiredNotAWedgedLog() throws Exception {
        // the carry-over's write fails after the maps are swapped (here: the file is closed);
        // the next store's switch must get that epoch back, not refuse every store from then on
        Path file = dir.resolve("f.fleeced-intent");
        IntentLog log = IntentLog.create(file, GIB, REGION_BITS, 3);
        log.mark(0, 4096).close();
        log.close();
        assertThrows(org.fleeced.block.BlockIOException.class, log::switchEpoch);
        IntentLog.Epoch pending = log.switchEpoch();
        assertSame(pending, log.switchEpoch());
    }

    @Test
    void aRegionLeavesTheLogOnceAWholeEpochPassesWithoutAWriteToIt() throws Exception {
        Path file = dir.resolve("e.fleeced-intent");
        IntentLog log = IntentLog.create(file, GIB, REGION_BITS, 9);
        log.mark(0, 4096).close();
        IntentLog.Epoch first = log.switchEpoch();
        log.mark(100L << 20, 4096).close();
        assertSame(first, log.switchEpoch(), "no clear map yet: the pending epoch comes back");
        first.retire();
        RecoveredIntents afterFirst = IntentLogReader.recover(file, GIB, 9);
        assertTrue(covers(afterFirst, 0, 1), "written in the ended epoch: carried into the new one");
        assertTrue(covers(afterFirst, 100L << 20, 4096));

        log.switchEpoch().retire();
        log.close();
        RecoveredIntents recovered = IntentLogReader.recover(file, GIB, 9);
        assertFalse(covers(recovered, 0, 1), "a whole epoch without a write: the mark is gone");
        assertTrue(covers(recovered, 100L << 20, 4096), "written in the last ended epoch: still marked");

        IntentLog again = IntentLog.create(file, GIB, REGION_BITS, 9);
        again.clearAll();
        again.close();
        assertTrue(IntentLogReader.recover(file, GIB, 9).isEmpty());
    }

    @Test
    void anEpochSwitchWaitsForOpenMarks() throws Exception {
        IntentLog log = IntentLog.create(dir.resolve("w.fleeced-intent"), GIB, REGION_BITS, 3);
        IntentLog.Mark open = log.mark(0, 1);
        CompletableFuture<IntentLog.Epoch> switcher = CompletableFuture.supplyAsync(() -> {
            try {
                return log.switchEpoch();
            } catch (org.fleeced.block.BlockIOException e) {
                throw new IllegalStateException(e);
            }
        }, Thread::startVirtualThread);
        await().during(Duration.ofMillis(100)).atMost(Duration.ofSeconds(2)).until(() -> !switcher.isDone());
        open.close();
        await().atMost(Duration.ofSeconds(5)).until(switcher::isDone);
        log.close();
    }

    @Test
    void concurrentMarksAreAllRecovered() throws Exception {
        Path file = dir.resolve("c.fleeced-intent");
        IntentLog log = IntentLog.create(file, 64 * GIB, REGION_BITS, 5);
        Thread[] threads = new Thread[16];
        for (int t = 0; t < threads.length; t++) {
            long base = t * 4 * GIB;
            threads[t] = Thread.startVirtualThread(() -> {
                for (int i = 0; i < 100; i++) {
                    try {
                        log.mark(base + i * (3L << 20), 4096).close();
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
            });
        }
        for (Thread t : threads) {
            t.join();
        }
        log.close();
        RecoveredIntents recovered = IntentLogReader.recover(file, 64 * GIB, 5);
        for (int t = 0; t < threads.length; t++) {
            for (int i = 0; i < 100; i++) {
                assertTrue(covers(recovered, t * 4 * GIB + i * (3L << 20), 4096), "thread " + t + " mark " + i);
            }
        }
        assertEquals(1600, recovered.regions().cardinality());
    }

    private static boolean covers(RecoveredIntents r, long offset, long length) {
        for (long o = offset; o < offset + length; o = (o | (r.regionSize() - 1)) + 1) {
            if (!r.regions().get((int) (o >>> r.regionBits()))) {
                return false;
            }
        }
        return true;
    }

    private static List<long[]> ranges(RecoveredIntents r) {
        List<long[]> out = new ArrayList<>();
        r.forEachRange((o, l) -> out.add(new long[] {o, l}));
        return out;
    }
}
