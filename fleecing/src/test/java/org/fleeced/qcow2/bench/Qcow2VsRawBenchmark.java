package org.fleeced.qcow2.bench;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;

/**
 * Compares the qcow2 driver with the raw node on the same file system: 4 KiB random writes and
 * reads (32 virtual threads) and 1 MiB sequential writes and reads (one thread), on a fresh
 * image of {@code args[1]} MiB in directory {@code args[0]}. Run by bench/qcow2-vs-raw.sh; the
 * result goes to stdout as a table, which is this tool's purpose.
 */
public final class Qcow2VsRawBenchmark {
    private static final int THREADS = 32;

    private Qcow2VsRawBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long size = Long.parseLong(args[1]) << 20;
        int randomOps = 20_000;
        String[] names = {"4k randwrite", "4k randread", "1M seqwrite", "1M seqread"};
        double[][] mibPerSec = new double[2][];
        for (int kind = 0; kind < 2; kind++) {
            Path file = dir.resolve(kind == 0 ? "bench.raw" : "bench.qcow2");
            Files.deleteIfExists(file);
            BlockNode node;
            if (kind == 0) {
                node = RawFileNode.create(file, size);
            } else {
                Qcow2Creator.create(file, Qcow2CreateOptions.of(size));
                node = Qcow2Node.open(file, Qcow2OpenOptions.readWrite());
            }
            try (node) {
                mibPerSec[kind] = new double[] {
                    random(node, randomOps, true), random(node, randomOps, false),
                    sequential(node, true), sequential(node, false)};
            }
            Files.delete(file);
        }
        StringBuilder table = new StringBuilder(String.format(Locale.ROOT, "%-14s %12s %12s %8s%n", "workload", "raw MiB/s", "qcow2 MiB/s", "ratio"));
        for (int i = 0; i < names.length; i++) {
            table.append(String.format(Locale.ROOT, "%-14s %12.1f %12.1f %8.2f%n", names[i], mibPerSec[0][i], mibPerSec[1][i],
                    mibPerSec[1][i] / mibPerSec[0][i]));
        }
        System.out.print(table);
    }

    private static double random(BlockNode node, int ops, boolean write) throws Exception {
        long start = System.nanoTime();
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                long seed = t;
                futures.add(ex.submit(() -> {
                    Random r = new Random(seed);
                    ByteBuffer buf = ByteBuffer.allocate(4096);
                    for (int i = 0; i < ops / THREADS; i++) {
                        long off = r.nextLong(node.size() / 4096) * 4096;
                        buf.clear();
                        if (write) {
                            node.write(off, buf, WriteFlag.NONE);
                        } else {
                            node.read(off, buf);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        }
        node.flush();
        return (double) ops * 4096 / (1 << 20) / ((System.nanoTime() - start) / 1e9);
    }

    private static double sequential(BlockNode node, boolean write) throws Exception {
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        new Random(1).nextBytes(buf.array());
        long start = System.nanoTime();
        for (long off = 0; off + buf.capacity() <= node.size(); off += buf.capacity()) {
            buf.clear();
            if (write) {
                node.write(off, buf, WriteFlag.NONE);
            } else {
                node.read(off, buf);
            }
        }
        node.flush();
        return (double) node.size() / (1 << 20) / ((System.nanoTime() - start) / 1e9);
    }
}
