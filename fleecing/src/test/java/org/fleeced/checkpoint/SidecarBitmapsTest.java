package org.fleeced.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.WriteFlag;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.disk.KillCopy;
import org.fleeced.disk.DiskSpec;
import org.fleeced.qcow2.ImageOpener;
import org.fleeced.tracking.IntentLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A raw disk's checkpoints in their bitmap sidecar ({@link SidecarBitmaps},
 * {@code IMAGE.fleeced-bitmaps}), opened as the daemon opens a raw disk ({@link DiskOpener}):
 * kept across a clean close, recovered after a crash, and never trusted when the file cannot
 * vouch for them.
 * <pre>
 *   raw image ── DiskOpener ── SidecarBitmaps ──▶ IMAGE.fleeced-bitmaps (+ intent log, journal)
 *   clean close ─▶ reopen: same checkpoints, same bits, recording/frozen
 *   copy of the files while open (kill -9) ─▶ reopen: recovered, a superset
 *   seeded damage (truncation, flipped bytes, garbage) ─▶ open fails with EUCLEAN, the file untouched
 * </pre>
 */
class SidecarBitmapsTest {
    private static final long SIZE = 16L << 20;
    private static final long G = DiskOpener.DEFAULT_GRANULARITY;
    private static final int DAMAGE_ROUNDS = 40;
    @TempDir
    Path dir;

    @Test
    void aCleanCloseKeepsTheCheckpointsAndTheirBits() throws Exception {
        Path image = newImage("vm.raw");
        try (ActiveDisk disk = open(image)) {
            write(disk, 0, 4096);
            disk.checkpoints().end(disk.checkpoints().begin("a", BackupBase.full()), BackupOutcome.SUCCESS);
            write(disk, 3 * G, 100);
            disk.checkpoints().create("b");
            write(disk, SIZE - 512, 512);
        }
        assertTrue(Files.exists(SidecarBitmaps.sidecarFor(image)), "the checkpoints stay beside the image");
        assertFalse(Files.exists(IntentLog.sidecarFor(image)), "a clean close leaves no intent log");
        assertFalse(Files.exists(CheckpointJournal.sidecarFor(image)), "a clean close leaves no journal");

        try (ActiveDisk disk = open(image)) {
            List<CheckpointInfo> infos = disk.checkpoints().list();
            assertEquals(List.of(new CheckpointInfo("a", CheckpointState.FROZEN, false, G),
                    new CheckpointInfo("b", CheckpointState.RECORDING, true, G)), infos);
            CheckpointStart fromA = disk.checkpoints().begin(null, BackupBase.differentialFrom("a"));
            assertTrue(fromA.changes().get(3 * G) && fromA.changes().get(SIZE - 1), "a's and b's changes");
            assertFalse(fromA.changes().get(0), "the write before a is not a change since a");
            write(disk, 5 * G, 1);
            assertEquals(2 * G, disk.checkpoints().changedBytesSince("b"), "b records after the reopen");
        }
    }

    @Test
    void aCrashLeavesTheCheckpointsRecovered() throws Exception {
        Path image = newImage("vm.raw");
        Path crashed;
        try (ActiveDisk disk = open(image)) {
            disk.checkpoints().create("a");
            disk.storeBitmaps();
            write(disk, 7 * G, 4096);
            disk.checkpoints().create("b");
            write(disk, 9 * G, 4096);
            crashed = KillCopy.of(image, dir.resolve("crash"));
        }
        try (ActiveDisk disk = open(crashed)) {
            List<CheckpointInfo> infos = disk.checkpoints().list();
            assertEquals(List.of("a", "b"), infos.stream().map(CheckpointInfo::name).toList());
            assertTrue(infos.stream().allMatch(i -> i.state() == CheckpointState.RECOVERED), infos.toString());
            CheckpointStart fromA = disk.checkpoints().begin(null, BackupBase.differentialFrom("a"));
            assertTrue(fromA.changes().get(7 * G) && fromA.changes().get(9 * G), "every acknowledged change is there");
        }
    }

    @Test
    void withoutItsIntentLogACrashedSidecarIsInconsistent() throws Exception {
        Path image = newImage("vm.raw");
        Path crashed;
        try (ActiveDisk disk = open(image)) {
            disk.checkpoints().create("a");
            write(disk, 0, 4096);
            disk.storeBitmaps();
            crashed = KillCopy.of(image, dir.resolve("crash"));
        }
        Files.delete(IntentLog.sidecarFor(crashed));
        try (ActiveDisk disk = open(crashed)) {
            assertEquals(List.of(new CheckpointInfo("a", CheckpointState.INCONSISTENT, false, 0)),
                    disk.checkpoints().list());
            CheckpointException refused = assertThrows(CheckpointException.class,
                    () -> disk.checkpoints().begin("b", BackupBase.incremental()));
            assertEquals(BaseRefusal.BASE_INCONSISTENT, refused.refusal());
        }
    }

    /** Seeded: each round damages a good sidecar one way; the open must refuse it and leave it as it was. */
    @Test
    void aDamagedSidecarIsReportedAndNeverTrusted() throws Exception {
        Path image = newImage("vm.raw");
        try (ActiveDisk disk = open(image)) {
            disk.checkpoints().create("a");
            write(disk, 2 * G, (int) (3 * G));
            disk.checkpoints().create("b");
            write(disk, 11 * G, 1);
        }
        Path sidecar = SidecarBitmaps.sidecarFor(image);
        byte[] good = Files.readAllBytes(sidecar);
        long seed = Long.getLong("fleeced.damageSeed", System.nanoTime());
        Random random = new Random(seed);
        for (int round = 0; round < DAMAGE_ROUNDS; round++) {
            byte[] damaged = damage(good, random);
            String context = "seed " + seed + ", round " + round;
            Files.write(sidecar, damaged);
            BlockIOException e = assertThrows(BlockIOException.class, () -> open(image).close(), context);
            assertEquals(Errno.EUCLEAN, e.errno(), context + ": damage is invalid input (422 IMAGE_INVALID), not an I/O error");
            assertTrue(e.getMessage().contains(sidecar.toString()) && e.getMessage().contains("damaged"),
                    context + ": the error names the file and what is wrong: " + e.getMessage());
            assertArrayEquals(damaged, Files.readAllBytes(sidecar), context + ": the damaged file is left as it was");
            assertFalse(Files.exists(IntentLog.sidecarFor(image)), context + ": nothing was opened on it");
        }
        Files.write(sidecar, good);
        try (ActiveDisk disk = open(image)) {
            assertEquals(List.of("a", "b"), disk.checkpoints().list().stream().map(CheckpointInfo::name).toList());
        }
    }

    @Test
    void aSidecarOfAnotherImageSizeIsNotTrusted() throws Exception {
        Path image = newImage("vm.raw");
        try (ActiveDisk disk = open(image)) {
            disk.checkpoints().create("a");
        }
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(2 * SIZE);
        }
        BlockIOException e = assertThrows(BlockIOException.class, () -> open(image).close());
        assertTrue(e.getMessage().contains("resized"), e.getMessage());
    }

    /** One seeded damage: a truncation, flipped bytes, or bytes appended. */
    private static byte[] damage(byte[] good, Random random) {
        switch (random.nextInt(3)) {
            case 0 -> {
                return Arrays.copyOf(good, random.nextInt(good.length));
            }
            case 1 -> {
                byte[] flipped = good.clone();
                int flips = 1 + random.nextInt(3);
                for (int i = 0; i < flips; i++) {
                    flipped[random.nextInt(flipped.length)] ^= (byte) (1 + random.nextInt(255));
                }
                return flipped;
            }
            default -> {
                byte[] longer = Arrays.copyOf(good, good.length + 1 + random.nextInt(64));
                for (int i = good.length; i < longer.length; i++) {
                    longer[i] = (byte) random.nextInt(256);
                }
                return longer;
            }
        }
    }

    private Path newImage(String name) throws Exception {
        Path image = dir.resolve(name);
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(SIZE);
        }
        return image;
    }

    private static ActiveDisk open(Path image) throws BlockIOException {
        return DiskOpener.open(DiskSpec.of("vm", image, ImageOpener.Format.RAW));
    }

    private static void write(ActiveDisk disk, long offset, int length) throws BlockIOException {
        disk.exportNode().write(offset, ByteBuffer.allocate(length), WriteFlag.NONE);
    }
}
