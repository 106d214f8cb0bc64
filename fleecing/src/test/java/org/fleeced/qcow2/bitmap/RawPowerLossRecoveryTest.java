package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.checkpoint.BackupBase;
import org.fleeced.checkpoint.CheckpointInfo;
import org.fleeced.checkpoint.CheckpointSet;
import org.fleeced.checkpoint.CheckpointStart;
import org.fleeced.checkpoint.CheckpointState;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.disk.DiskSpec;
import org.fleeced.qcow2.ImageOpener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Simulated power loss on a raw disk, whose checkpoints live in the bitmap sidecar beside it:
 * the image and its sidecars on a {@link PowerLossFileSystem}, which at a random fsync drops
 * every write not yet forced but a random subset. Every checkpoint created before the power went
 * exists afterwards, recovered, and an incremental from each reads every change acknowledged
 * since it (acknowledged, not only flushed: its intent mark was durable before the write).
 * <pre>
 *   workload ──▶ DiskOpener raw disk ──▶ PowerLossFileSystem ──▶ vm.raw, vm.raw.fleeced-{bitmaps,intent,journal}
 *                                           └─ at the n-th fsync: undo unforced writes, redo a random subset, die
 * </pre>
 */
class RawPowerLossRecoveryTest {
    private static final long SIZE = 32L << 20;
    private static final long G = DiskOpener.DEFAULT_GRANULARITY;
    private static final int ROUNDS = 25;
    @TempDir
    Path dir;

    @Test
    void acknowledgedCheckpointsAndChangesSurviveAPowerLossAtAnyFsync() throws Exception {
        long seed = Long.getLong("fleeced.crashSeed", System.nanoTime());
        Random random = new Random(seed);
        for (int round = 0; round < ROUNDS; round++) {
            String context = "seed " + seed + ", round " + round;
            Path image = dir.resolve("vm" + round + ".raw");
            try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
                file.setLength(SIZE);
            }
            CheckpointModel model = new CheckpointModel(SIZE, G);
            String attempted = runUntilPowerLoss(image, model, random, round);

            try (ActiveDisk disk = DiskOpener.open(DiskSpec.of("vm", image, ImageOpener.Format.RAW))) {
                CheckpointSet set = disk.checkpoints();
                List<String> names = set.list().stream().map(CheckpointInfo::name).toList();
                List<String> expected = model.names();
                assertTrue(names.equals(expected) || names.equals(plus(expected, attempted)),
                        context + ": the acknowledged checkpoints " + expected + " (and perhaps " + attempted
                                + ", cut short by the power loss), found " + names);
                for (CheckpointInfo info : set.list()) {
                    assertEquals(CheckpointState.RECOVERED, info.state(), context + ": " + info);
                }
                for (String name : expected) {
                    CheckpointStart since = set.begin(null, BackupBase.differentialFrom(name));
                    assertEquals(List.of(), model.missingSince(name, since.changes()),
                            context + ": acknowledged changes since " + name + " missing");
                }
            }
        }
    }

    /** Runs a random workload until the armed power loss; returns the checkpoint being created when it struck, or null. */
    private static String runUntilPowerLoss(Path realImage, CheckpointModel model, Random random, int round)
            throws Exception {
        PowerLossFileSystem fs = new PowerLossFileSystem();
        ActiveDisk disk = DiskOpener.open(DiskSpec.of("vm", fs.wrap(realImage), ImageOpener.Format.RAW)
                .withBitmapOptions(BitmapPersistenceOptions.defaults().withRegionBits(20).withCheckpointAfterRegions(3)));
        double keep = random.nextDouble();
        fs.loseInsteadOfForce(1 + random.nextInt(80), random, keep);
        BlockNode node = disk.exportNode();
        ByteBuffer data = ByteBuffer.allocate(128 << 10);
        String attempted = null;
        try {
            for (int i = 0; i < 300; i++) {
                long offset = random.nextLong(SIZE) & ~511L;
                int length = (int) Math.min(SIZE - offset, 512 * (1 + random.nextInt(256)));
                int op = random.nextInt(20);
                if (op < PowerLossRecoveryTest.GUEST_OPS) {
                    if (PowerLossRecoveryTest.guestRequest(node, data, random, op, offset, length)) {
                        model.write(offset, length);
                    }
                } else if (op < 19) {
                    disk.storeBitmaps();
                } else {
                    attempted = "c" + round + "-" + i;
                    disk.checkpoints().create(attempted);
                    model.create(attempted, false);
                    attempted = null;
                }
            }
        } catch (BlockIOException e) {
            assertTrue(fs.dead(), "only the power loss may fail a request: " + e);
        }
        fs.powerLoss(random, keep);
        return attempted;
    }

    private static List<String> plus(List<String> names, String more) {
        return more == null ? names : Stream.concat(names.stream(), Stream.of(more)).toList();
    }
}
