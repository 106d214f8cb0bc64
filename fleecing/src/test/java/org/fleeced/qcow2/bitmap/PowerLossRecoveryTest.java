package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Simulated power loss: the image and its sidecar live on a {@link PowerLossFileSystem}, which at
 * a random fsync drops every write not yet forced, except a random subset of them. Every change
 * acknowledged before the power went must be in the recovered bitmaps (acknowledged, not only
 * flushed: its intent mark was durable before it was written), including bitmaps added during
 * the run, and qemu-img check must find no corruption. Stores are synchronous ones and background
 * ones, which go on with the workload's flushes (and the flush-triggered stores are background ones).
 * <pre>
 *   workload ──▶ PersistentBitmaps ──▶ PowerLossFileSystem ──▶ real files
 *                                          └─ at the n-th fsync: undo unforced writes, redo a random subset, die
 * </pre>
 */
class PowerLossRecoveryTest {
    private static final long SIZE = 32L << 20;
    private static final long GRANULARITY = 1 << 16;
    private static final int ROUNDS = 25;
    /** Workload ops below this (of 20) are guest requests ({@link #guestRequest}); the rest store or add bitmaps. */
    static final int GUEST_OPS = 17;
    @TempDir
    Path dir;

    @Test
    void acknowledgedChangesSurviveAPowerLossAtAnyFsync() throws Exception {
        ExternalTools.assume("qemu-img");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        for (int round = 0; round < ROUNDS; round++) {
            String context = "seed " + seed + ", round " + round;
            Path image = dir.resolve("disk" + round + ".qcow2");
            ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
            ExternalTools.ok("qemu-img", "bitmap", "--add", "-g", "64K", image.toString(), "base");
            Map<String, ClusterRuns> expected = runUntilPowerLoss(image, random, round);

            ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
            assertTrue(check.exitCode() == 0 || check.exitCode() == 3, context + ": qemu-img check\n" + check.output());
            try (BitmapDisk disk = BitmapDisk.open(image, true)) {
                PersistentBitmaps bitmaps = disk.bitmaps();
                List<BitmapInfo> infos = bitmaps.list();
                for (Map.Entry<String, ClusterRuns> e : expected.entrySet()) {
                    BitmapInfo info = infos.stream().filter(i -> i.name().equals(e.getKey())).findFirst().orElse(null);
                    assertNotNull(info, context + ": bitmap " + e.getKey() + " is gone");
                    assertEquals(BitmapState.RECOVERED, info.state(), context + ": " + info);
                    assertEquals(List.of(), e.getValue().missingFrom(bitmaps.get(e.getKey())),
                            context + ": acknowledged changes missing from " + e.getKey());
                }
            }
        }
    }

    private Map<String, ClusterRuns> runUntilPowerLoss(Path realImage, Random random, int round) throws Exception {
        PowerLossFileSystem fs = new PowerLossFileSystem();
        Map<String, ClusterRuns> expected = new LinkedHashMap<>();
        expected.put("base", new ClusterRuns(SIZE, GRANULARITY));
        BitmapDisk disk = BitmapDisk.open(fs.wrap(realImage), false,
                BitmapPersistenceOptions.defaults().withRegionBits(20).withCheckpointAfterRegions(3));
        PersistentBitmaps bitmaps = disk.bitmaps();
        double keep = random.nextDouble();
        fs.loseInsteadOfForce(1 + random.nextInt(80), random, keep);
        BlockNode node = disk.node();
        ByteBuffer data = ByteBuffer.allocate(128 << 10);
        try {
            for (int i = 0; i < 300; i++) {
                long offset = random.nextLong(SIZE) & ~511L;
                int length = (int) Math.min(SIZE - offset, 512 * (1 + random.nextInt(256)));
                int op = random.nextInt(20);
                if (op < GUEST_OPS) {
                    if (guestRequest(node, data, random, op, offset, length)) {
                        for (ClusterRuns runs : expected.values()) {
                            runs.add(offset, length);
                        }
                    }
                } else if (op < 18) {
                    bitmaps.checkpointToImage();
                } else if (op < 19) {
                    // goes on with the workload's flushes, and may be cut by the power loss between its steps
                    bitmaps.storeInBackground();
                } else {
                    String name = "c" + round + "-" + i;
                    bitmaps.add(name, GRANULARITY, true, true);
                    expected.put(name, new ClusterRuns(SIZE, GRANULARITY));
                }
            }
        } catch (BlockIOException e) {
            assertTrue(fs.dead(), "only the power loss may fail a request: " + e);
        }
        fs.powerLoss(random, keep);
        return expected;
    }

    /**
     * Guest request {@code op} of the workload, {@code op < GUEST_OPS}: a write, a zero write or
     * a discard of {@code [offset, offset + length)}, or a flush. True when it changed the range.
     */
    static boolean guestRequest(BlockNode node, ByteBuffer data, Random random, int op, long offset, int length)
            throws BlockIOException {
        if (op < 12) {
            random.nextBytes(data.array());
            node.write(offset, data.clear().limit(length), WriteFlag.NONE);
        } else if (op < 14) {
            node.writeZeroes(offset, length, WriteFlag.of(WriteFlag.MAY_UNMAP));
        } else if (op < 15) {
            node.discard(offset, length);
        } else {
            node.flush();
            return false;
        }
        return true;
    }
}
