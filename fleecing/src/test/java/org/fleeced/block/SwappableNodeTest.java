package org.fleeced.block;

import org.fleeced.cbw.SnapshotAccessNode;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.job.FleecingJob;
import org.fleeced.job.FleecingJobSpec;
import org.fleeced.job.JobState;
import org.fleeced.job.TempSettings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.checkpoint.BackupOutcome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inserting and removing the filter under a write load: no write is lost, and the snapshot is
 * one exact point in time. Each writer owns a slot (its own cluster) and writes increasing
 * sequence numbers into it; the snapshot must hold, per slot, a number at least the last one
 * that returned before the job started and below the first one issued after it started.
 */
class SwappableNodeTest {
    static final int C = 64 << 10;
    static final int WRITERS = 8;

    @TempDir
    Path dir;

    @Test
    void aJobStartAndFinishUnderLoadLoseNoWriteAndCutOneInstant() throws Exception {
        long size = (long) WRITERS * C;
        ActiveDisk disk = DiskOpener.over("vda", RawFileNode.create(dir.resolve("disk.raw"), size), 4096, C);
        Path temp = Files.createDirectory(dir.resolve("temp"));
        AtomicLongArray lastReturned = new AtomicLongArray(WRITERS);
        AtomicLongArray lastIssued = new AtomicLongArray(WRITERS);
        AtomicBoolean stop = new AtomicBoolean();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> writers = new ArrayList<>();
            for (int w = 0; w < WRITERS; w++) {
                int slot = w;
                writers.add(pool.submit(() -> {
                    for (long seq = 1; !stop.get() || seq < 200; seq++) {
                        lastIssued.set(slot, seq);
                        disk.exportNode().write((long) slot * C + 8 * (seq % 512),
                                ByteBuffer.allocate(8).putLong(0, seq), WriteFlag.NONE);
                        disk.exportNode().write((long) slot * C, ByteBuffer.allocate(8).putLong(0, seq), WriteFlag.NONE);
                        lastReturned.set(slot, seq);
                    }
                    return null;
                }));
            }
            try {
                checkOneInstant(disk, temp, lastReturned, lastIssued, writers);
            } finally {
                // the writers stop on any outcome, so that a failure is reported instead of hanging
                stop.set(true);
            }
            for (Future<?> f : writers) {
                f.get();
            }
        }
        for (int w = 0; w < WRITERS; w++) {
            ByteBuffer b = ByteBuffer.allocate(8);
            disk.exportNode().read((long) w * C, b);
            assertEquals(lastReturned.get(w), b.getLong(0), "slot " + w + ": the last write was lost");
        }
    }

    private static void checkOneInstant(ActiveDisk disk, Path temp, AtomicLongArray lastReturned,
            AtomicLongArray lastIssued, List<Future<?>> writers) throws Exception {
        // no time bound (a loaded machine is slow), but a writer that failed ends the wait
        org.awaitility.Awaitility.await().forever()
                .until(() -> lastReturned.get(WRITERS - 1) > 50 || writers.stream().anyMatch(Future::isDone));
        long[] before = new long[WRITERS];
        for (int w = 0; w < WRITERS; w++) {
            before[w] = lastReturned.get(w);
        }
        FleecingJob job = FleecingJob.start(FleecingJobSpec.builder(List.of(disk), TempSettings.raw(temp)).build());
        long[] after = new long[WRITERS];
        for (int w = 0; w < WRITERS; w++) {
            after[w] = lastIssued.get(w) + 1;
        }
        org.awaitility.Awaitility.await().forever()
                .until(() -> lastReturned.get(0) > after[0] + 50 || writers.stream().anyMatch(Future::isDone));
        SnapshotAccessNode snapshot = job.disk("vda").exportNode();
        for (int w = 0; w < WRITERS; w++) {
            ByteBuffer b = ByteBuffer.allocate(8);
            snapshot.read((long) w * C, b);
            long seen = b.getLong(0);
            assertTrue(seen >= before[w] && seen < after[w], "slot " + w + ": snapshot holds " + seen
                    + ", expected in [" + before[w] + ", " + after[w] + ")");
        }
        assertEquals(JobState.FINISHED, job.finish(BackupOutcome.SUCCESS));
    }
}
