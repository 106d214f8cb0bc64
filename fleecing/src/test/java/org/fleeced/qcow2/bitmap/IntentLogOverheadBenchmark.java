package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.tracking.DirtyTrackingFilter;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cost of crash safety on 4 KiB random writes: the same qcow2 image (metadata preallocated,
 * so writes go in place and the bitmap work is as visible as it can be) written through a
 * tracking filter that only sets an in-memory bitmap, and through {@link PersistentBitmaps}
 * (intent log marks, stores on flush and on a "timer"). Runs alternate; the median of each is
 * reported. It asserts nothing about time: run by hand with {@code -Dfleeced.bench=true}; the
 * figures go to the log and to {@code target/intent-log-benchmark.txt}.
 */
@EnabledIfSystemProperty(named = "fleeced.bench", matches = "true")
class IntentLogOverheadBenchmark {
    private static final System.Logger LOG = System.getLogger(IntentLogOverheadBenchmark.class.getName());
    private static final long SIZE = 1L << 30;
    private static final int WRITES = 60_000;
    private static final int REPEATS = 7;
    @TempDir
    Path dir;

    /** How the workload flushes and how often the daemon's timer stores the bitmaps. */
    private record Workload(String name, int flushEvery, int checkpointEvery) {
    }

    @Test
    void crashSafeTrackingCostsAtMostAFewPercent() throws Exception {
        List<String> report = new ArrayList<>();
        for (Workload w : List.of(new Workload("no flush", 0, 0), new Workload("flush every 256 writes", 256, 0),
                new Workload("flush every 256, checkpoint every 20000", 256, 20_000))) {
            double[] costs = new double[REPEATS];
            double[] plainRates = new double[REPEATS];
            for (int r = 0; r < REPEATS; r++) {
                double[] seconds = runInterleaved(w, r);
                plainRates[r] = WRITES / seconds[0];
                costs[r] = 100 * (seconds[1] - seconds[0]) / seconds[1];
            }
            String line = String.format("%s: tracking only %.0f writes/s, crash-safe costs %.1f%% (median of %d; runs %s)",
                    w.name(), median(plainRates), median(costs), REPEATS, Arrays.toString(
                            Arrays.stream(costs).mapToLong(Math::round).toArray()));
            LOG.log(System.Logger.Level.INFO, line);
            report.add(line);
        }
        Path out = Path.of("target", "intent-log-benchmark.txt");
        Files.write(out, report);
        assertTrue(Files.size(out) > 0);
    }

    /**
     * Both stacks on their own fresh image, written in alternating blocks of 512 writes (which
     * one goes first alternates too), so that load from other processes hits both alike.
     *
     * @return seconds spent in the tracking-only stack and in the crash-safe stack
     */
    private double[] runInterleaved(Workload w, long seed) throws Exception {
        Path plainImage = dir.resolve("plain" + seed + ".qcow2");
        Path safeImage = dir.resolve("safe" + seed + ".qcow2");
        for (Path p : List.of(plainImage, safeImage)) {
            Qcow2Creator.create(p, Qcow2CreateOptions.of(SIZE).withPreallocation(Qcow2CreateOptions.Preallocation.METADATA));
        }
        DirtyBitmap bitmap = new DirtyBitmap(SIZE, 1 << 16);
        BlockNode plain = new DirtyTrackingFilter(Qcow2Node.open(plainImage, Qcow2OpenOptions.readWrite()), bitmap::track);
        BitmapDisk safeDisk = BitmapDisk.open(safeImage, false);
        PersistentBitmaps bitmaps = safeDisk.bitmaps();
        bitmaps.add("c1", 1 << 16, true, true);
        BlockNode safe = safeDisk.node();
        Random plainRandom = new Random(seed);
        Random safeRandom = new Random(seed);
        ByteBuffer data = ByteBuffer.allocate(4096);
        plainRandom.nextBytes(data.array());
        double[] seconds = new double[2];
        for (int block = 0; block < WRITES / 512; block++) {
            for (int k = 0; k < 2; k++) {
                boolean crashSafe = (block + k) % 2 == 1;
                long start = System.nanoTime();
                for (int i = block * 512 + 1; i <= (block + 1) * 512; i++) {
                    BlockNode node = crashSafe ? safe : plain;
                    Random random = crashSafe ? safeRandom : plainRandom;
                    node.write(random.nextLong(SIZE >>> 12) << 12, data.clear(), WriteFlag.NONE);
                    if (w.flushEvery() > 0 && i % w.flushEvery() == 0) {
                        node.flush();
                    }
                    if (crashSafe && w.checkpointEvery() > 0 && i % w.checkpointEvery() == 0) {
                        bitmaps.checkpointToImage();
                    }
                }
                seconds[crashSafe ? 1 : 0] += (System.nanoTime() - start) / 1e9;
            }
        }
        plain.close();
        safeDisk.close();
        Files.delete(plainImage);
        Files.delete(safeImage);
        return seconds;
    }

    /**
     * The write path's own cost without any I/O: recordChange on regions already marked (the
     * steady state) against setting the bitmap alone, in nanoseconds per call.
     */
    @Test
    void recordChangeFastPathAgainstTrackingAlone() throws Exception {
        Path image = dir.resolve("fast.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(SIZE));
        try (BitmapDisk disk = BitmapDisk.open(image, false)) {
            PersistentBitmaps bitmaps = disk.bitmaps();
            bitmaps.add("c1", 1 << 16, true, true);
            DirtyBitmap alone = new DirtyBitmap(SIZE, 1 << 16);
            for (long o = 0; o < SIZE; o += 1 << 20) {
                bitmaps.recordChange(o, 4096);
            }
            int calls = 2_000_000;
            double[] plain = new double[REPEATS];
            double[] safe = new double[REPEATS];
            for (int r = 0; r < REPEATS; r++) {
                Random random = new Random(r);
                long start = System.nanoTime();
                for (int i = 0; i < calls; i++) {
                    alone.track(random.nextLong(SIZE >>> 12) << 12, 4096);
                }
                plain[r] = (System.nanoTime() - start) / (double) calls;
                random = new Random(r);
                start = System.nanoTime();
                for (int i = 0; i < calls; i++) {
                    bitmaps.recordChange(random.nextLong(SIZE >>> 12) << 12, 4096);
                }
                safe[r] = (System.nanoTime() - start) / (double) calls;
            }
            String line = String.format("recordChange fast path: tracking only %.0f ns, crash-safe %.0f ns per 4 KiB write",
                    median(plain), median(safe));
            LOG.log(System.Logger.Level.INFO, line);
            Files.write(Path.of("target", "intent-log-fast-path.txt"), List.of(line));
        }
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
