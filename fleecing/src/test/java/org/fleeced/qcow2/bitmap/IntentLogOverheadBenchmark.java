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
import org.fleeced.checkpoint.DirtyTrackingFilter;
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
    private static final int REPEATS = 5;
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
            double[] plain = new double[REPEATS];
            double[] safe = new double[REPEATS];
            run(false, w, 1);
            for (int r = 0; r < REPEATS; r++) {
                plain[r] = run(false, w, r + 2);
                safe[r] = run(true, w, r + 2);
            }
            double p = median(plain);
            double s = median(safe);
            String line = String.format("%s: tracking only %.0f writes/s, crash-safe %.0f writes/s, cost %.1f%%",
                    w.name(), p, s, 100 * (p - s) / p);
            LOG.log(System.Logger.Level.INFO, line);
            report.add(line);
        }
        Path out = Path.of("target", "intent-log-benchmark.txt");
        Files.write(out, report);
        assertTrue(Files.size(out) > 0);
    }

    private double run(boolean crashSafe, Workload w, long seed) throws Exception {
        Path image = dir.resolve((crashSafe ? "safe" : "plain") + seed + ".qcow2");
        Files.deleteIfExists(image);
        Qcow2Creator.create(image, Qcow2CreateOptions.of(SIZE).withPreallocation(Qcow2CreateOptions.Preallocation.METADATA));
        PersistentBitmaps bitmaps = null;
        BlockNode node;
        if (crashSafe) {
            bitmaps = PersistentBitmaps.open(image, Qcow2OpenOptions.readWrite(), BitmapPersistenceOptions.defaults());
            bitmaps.add("c1", 1 << 16, true, true);
            node = bitmaps.node();
        } else {
            DirtyBitmap bitmap = new DirtyBitmap(SIZE, 1 << 16);
            node = new DirtyTrackingFilter(Qcow2Node.open(image, Qcow2OpenOptions.readWrite()), bitmap::track);
        }
        Random random = new Random(seed);
        ByteBuffer data = ByteBuffer.allocate(4096);
        random.nextBytes(data.array());
        long start = System.nanoTime();
        for (int i = 1; i <= WRITES; i++) {
            node.write(random.nextLong(SIZE >>> 12) << 12, data.clear(), WriteFlag.NONE);
            if (w.flushEvery() > 0 && i % w.flushEvery() == 0) {
                node.flush();
            }
            if (bitmaps != null && w.checkpointEvery() > 0 && i % w.checkpointEvery() == 0) {
                bitmaps.checkpointToImage();
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        node.close();
        Files.delete(image);
        return WRITES / seconds;
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[sorted.length / 2];
    }
}
