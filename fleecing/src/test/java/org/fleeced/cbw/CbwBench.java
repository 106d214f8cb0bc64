package org.fleeced.cbw;

import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.job.FleecingJob;
import org.fleeced.job.FleecingJobSpec;
import org.fleeced.job.TempSettings;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.checkpoint.BackupOutcome;

/**
 * Run by hand (see bench/cbw-overhead.sh): guest 4 KiB random writes through the filter on
 * first touch and on rewrite against no filter, and the longest stall a guest write sees while a
 * job starts and finishes under a random-write load. Prints a small table on stdout. Not a test:
 * nothing here asserts on timings.
 */
public final class CbwBench {
    private static final int C = 64 << 10;
    private static final long SIZE = 1L << 30;
    private static final int WRITES = 20_000;

    private CbwBench() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory(args.length > 0 ? Path.of(args[0]) : Path.of("/tmp"), "cbw-bench");
        Path temp = Files.createDirectory(dir.resolve("temp"));
        try {
            overhead(dir, temp);
            stall(dir, temp);
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void overhead(Path dir, Path temp) throws Exception {
        RawFileNode raw = RawFileNode.create(dir.resolve("plain.raw"), SIZE);
        long[] offsets = offsets(1);
        report("raw file, no filter", time(raw, offsets));
        report("raw file, no filter, rewrite", time(raw, offsets));
        raw.close();

        ActiveDisk disk = DiskOpener.over("bench", RawFileNode.create(dir.resolve("disk.raw"), SIZE), 4096, C);
        report("disk stack, no job", time(disk.exportNode(), offsets(2)));
        FleecingJob job = FleecingJob.start(FleecingJobSpec.builder(List.of(disk), TempSettings.raw(temp))
                .checkpoint("c1").build());
        long[] fresh = offsets(3);
        report("with CBW job, first touch (64 KiB copy)", time(disk.exportNode(), fresh));
        report("with CBW job, rewrite", time(disk.exportNode(), fresh));
        job.finish(BackupOutcome.SUCCESS);
        disk.close();
    }

    /**
     * Starts and finishes jobs while 8 threads write 4 KiB at random. For each start, the stall is
     * the longest write that was in flight at any moment of the start() call.
     */
    private static void stall(Path dir, Path temp) throws Exception {
        ActiveDisk disk = DiskOpener.over("stall", RawFileNode.create(dir.resolve("stall.raw"), SIZE), 4096, C);
        int threads = 8;
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLongArray worst = new AtomicLongArray(threads);
        AtomicLongArray lastStart = new AtomicLongArray(threads);
        AtomicLong windowStart = new AtomicLong(Long.MAX_VALUE);
        AtomicLong windowEnd = new AtomicLong(Long.MAX_VALUE);
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> load = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                load.add(pool.submit(() -> {
                    Random random = new Random(id);
                    ByteBuffer data = ByteBuffer.allocate(4096);
                    while (!stop.get()) {
                        long offset = random.nextLong(SIZE / 4096) * 4096;
                        long start = System.nanoTime();
                        lastStart.set(id, start);
                        disk.exportNode().write(offset, data.clear(), WriteFlag.NONE);
                        long end = System.nanoTime();
                        if (start < windowEnd.get() && end > windowStart.get()) {
                            worst.accumulateAndGet(id, end - start, Math::max);
                        }
                    }
                    return null;
                }));
            }
            for (int round = 0; round < 10; round++) {
                boolean baseline = round % 2 == 0;
                for (int t = 0; t < threads; t++) {
                    worst.set(t, 0);
                }
                windowEnd.set(Long.MAX_VALUE);
                windowStart.set(System.nanoTime());
                FleecingJob job = null;
                if (baseline) {
                    long until = System.nanoTime() + 20_000_000;
                    while (System.nanoTime() < until) {
                        Thread.onSpinWait();
                    }
                } else {
                    job = FleecingJob.start(FleecingJobSpec.builder(List.of(disk), TempSettings.raw(temp))
                            .checkpoint("s" + round).build());
                }
                long end = System.nanoTime();
                windowEnd.set(end);
                for (int t = 0; t < threads; t++) {
                    while (lastStart.get(t) < end) {
                        Thread.onSpinWait();
                    }
                }
                long max = 0;
                for (int t = 0; t < threads; t++) {
                    max = Math.max(max, worst.get(t));
                }
                System.out.printf("%-28s window %6.2f ms; longest guest write in flight during it %6.2f ms%n",
                        baseline ? "no job (baseline, 20 ms)" : "job start under load", (end - windowStart.get()) / 1e6,
                        max / 1e6);
                if (job != null) {
                    job.finish(BackupOutcome.SUCCESS);
                }
            }
            stop.set(true);
            for (Future<?> f : load) {
                f.get();
            }
        }
        disk.close();
    }

    private static long[] offsets(long seed) {
        Random random = new Random(seed);
        long[] out = new long[WRITES];
        for (int i = 0; i < WRITES; i++) {
            out[i] = random.nextLong(SIZE / C) * C + random.nextInt(C / 4096) * 4096L;
        }
        return out;
    }

    private static double time(BlockNode node, long[] offsets) throws Exception {
        ByteBuffer data = ByteBuffer.allocate(4096);
        new Random(9).nextBytes(data.array());
        long start = System.nanoTime();
        for (long offset : offsets) {
            node.write(offset, data.clear(), WriteFlag.NONE);
        }
        return (System.nanoTime() - start) / 1e3 / offsets.length;
    }

    private static void report(String what, double microsPerWrite) {
        System.out.printf("%-45s %8.1f us/write  %8.0f IOPS%n", what, microsPerWrite, 1e6 / microsPerWrite);
    }
}
