package org.fleeced.cbw;

import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.job.DiskFleece;
import org.fleeced.job.FleecingJob;
import org.fleeced.job.FleecingJobSpec;
import org.fleeced.job.JobState;
import org.fleeced.job.TempFormat;
import org.fleeced.job.TempSettings;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.fleeced.bitmaps.ByteRange;
import org.fleeced.bitmaps.FrozenBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.checkpoint.BackupBase;
import org.fleeced.checkpoint.BackupOutcome;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Full, incremental and differential backups through {@link FleecingJob}, restored and compared
 * with the disk at each snapshot point, bit for bit:
 *
 * <pre>
 *   full @c1 ── writes A ── incremental from c1 @c2 ── writes B ── differential from c1 @c3
 *   restore(c2) = full + incremental      restore(c3) = full + differential
 * </pre>
 * Each chain runs once with raw and once with qcow2 temp images.
 */
class CheckpointChainTest {
    static final int C = 64 << 10;
    static final int SIZE = 48 * C + 777;

    @TempDir
    Path dir;
    private ActiveDisk disk;
    private Path temp;
    private final Random random = new Random(42);
    /** The temp image format of the running test: every chain runs on raw and on qcow2 temps. */
    private TempFormat tempFormat = TempFormat.RAW;

    @BeforeEach
    void openDisk() throws Exception {
        temp = Files.createDirectory(dir.resolve("temp"));
        RawFileNode image = RawFileNode.create(dir.resolve("disk.raw"), SIZE);
        disk = DiskOpener.over("vda", image, 4096, C);
        guestWrites(40);
    }

    @ParameterizedTest
    @EnumSource(TempFormat.class)
    void fullThenIncrementalThenDifferentialRestoreBitForBit(TempFormat format) throws Exception {
        tempFormat = format;
        byte[] atC1 = diskNow();
        byte[] full = backup(spec("c1", BackupBase.full()), null);
        assertArrayEquals(atC1, full);

        guestWrites(25);
        byte[] atC2 = diskNow();
        byte[] restore2 = full.clone();
        backup(spec("c2", BackupBase.incremental()), restore2);
        assertArrayEquals(atC2, restore2, "full + incremental(c1..c2)");

        guestWrites(25);
        byte[] atC3 = diskNow();
        byte[] restore3 = full.clone();
        backup(spec("c3", BackupBase.differentialFrom("c1")), restore3);
        assertArrayEquals(atC3, restore3, "full + differential(c1..c3)");
        assertEquals(List.of("c1", "c2", "c3"), disk.checkpoints().list().stream().map(c -> c.name()).toList());
    }

    @ParameterizedTest
    @EnumSource(TempFormat.class)
    void aFailedJobNeverHappenedAndItsRetryCoversEverySinceTheLastGoodCheckpoint(TempFormat format) throws Exception {
        tempFormat = format;
        byte[] full = backup(spec("c1", BackupBase.full()), null);
        guestWrites(20);
        FleecingJob failed = FleecingJob.start(spec("c2", BackupBase.differentialFrom("c1")));
        long changed = failed.disk("vda").changes().dirtyBytes();
        assertTrue(changed > 0);
        guestWrites(10);
        assertEquals(JobState.FAILED, failed.finish(BackupOutcome.FAILURE));
        assertEquals(List.of("c1"), disk.checkpoints().list().stream().map(c -> c.name()).toList(),
                "the failed job's checkpoint is gone");
        guestWrites(10);
        byte[] now = diskNow();
        byte[] restore = full.clone();
        backup(spec("c2", BackupBase.differentialFrom("c1")), restore);
        assertArrayEquals(now, restore, "the retry, with the same name, covers the failed job's changes and the later ones");
        assertEquals(List.of("c1", "c2"), disk.checkpoints().list().stream().map(c -> c.name()).toList());
    }

    @ParameterizedTest
    @EnumSource(TempFormat.class)
    void aFailedFullBackupLeavesNoCheckpointAndItsRetrySucceeds(TempFormat format) throws Exception {
        tempFormat = format;
        FleecingJob failed = FleecingJob.start(spec("c1", BackupBase.full()));
        assertEquals(JobState.FAILED, failed.finish(BackupOutcome.ABANDONED));
        assertTrue(disk.checkpoints().list().isEmpty());
        byte[] now = diskNow();
        assertArrayEquals(now, backup(spec("c1", BackupBase.full()), null));
    }

    @ParameterizedTest
    @EnumSource(TempFormat.class)
    void readsOutsideTheExportedChangesFailWithEacces(TempFormat format) throws Exception {
        tempFormat = format;
        backup(spec("c1", BackupBase.full()), null);
        write(3 * C + 5, 100);
        FleecingJob job = FleecingJob.start(spec("c2", BackupBase.incremental()));
        try {
            DiskFleece vda = job.disk("vda");
            assertTrue(vda.changes().get(3 * C));
            long clean = vda.changes().nextClean(0, SIZE);
            assertTrue(clean >= 0, "the test needs an unchanged cluster");
            BlockNode export = vda.exportNode();
            export.read(3 * C, ByteBuffer.allocate(C));
            BlockIOException e = assertThrows(BlockIOException.class, () -> export.read(clean, ByteBuffer.allocate(512)));
            assertEquals(Errno.EACCES, e.errno());
            assertEquals(SIZE, sumLengths(export.blockStatus(0, SIZE)), "block status over the whole export works");
        } finally {
            job.finish(BackupOutcome.SUCCESS);
        }
    }

    @ParameterizedTest
    @EnumSource(TempFormat.class)
    void theJobsChangesKeepNoLaterWrite(TempFormat format) throws Exception {
        tempFormat = format;
        backup(spec("c1", BackupBase.full()), null);
        write(C, 10);
        FleecingJob job = FleecingJob.start(spec("c2", BackupBase.incremental()));
        FrozenBitmap changes = job.disk("vda").changes();
        long before = changes.dirtyBytes();
        long clean = changes.nextClean(0, SIZE);
        write(clean, 10);
        assertEquals(before, changes.dirtyBytes());
        assertTrue(!changes.get(clean), "the exported changes picked up a write after the snapshot point");
        assertTrue(disk.checkpoints().list().getLast().dirtyBytes() >= C, "c2 records the later write");
        job.finish(BackupOutcome.SUCCESS);
    }

    @Test
    void admissionControlRefusesAJobWithoutItsReserve() throws Exception {
        TempSettings greedy = TempSettings.raw(temp).withReserve(Long.MAX_VALUE / 2);
        BlockIOException e = assertThrows(BlockIOException.class,
                () -> FleecingJob.start(FleecingJobSpec.builder(List.of(disk), greedy).build()));
        assertEquals(Errno.ENOSPC, e.errno());
        assertTrue(e.getMessage().contains("usable bytes"), e.getMessage());
        assertNull(disk.job(), "a refused job leaves the disk free");
        try (var files = Files.list(temp)) {
            assertEquals(0, files.count(), "a refused job leaves no temp file");
        }
    }

    private FleecingJobSpec spec(String checkpoint, BackupBase base) {
        return FleecingJobSpec.builder(List.of(disk), TempSettings.raw(temp).withFormat(tempFormat))
                .checkpoint(checkpoint).base(base)
                .clusterBytes(C).build();
    }

    /**
     * Runs a job, guest writes included, and returns the full image read, or applies the
     * changed ranges to {@code restore} when the job is incremental.
     */
    private byte[] backup(FleecingJobSpec spec, byte[] restore) throws Exception {
        FleecingJob job = FleecingJob.start(spec);
        assertEquals(JobState.RUNNING, job.state());
        DiskFleece vda = job.disk("vda");
        guestWrites(15);
        byte[] out = restore == null ? new byte[SIZE] : restore;
        List<ByteRange> ranges = vda.changes() == null ? List.of(new ByteRange(0, SIZE))
                : vda.changes().dirtyExtents(0, SIZE, Integer.MAX_VALUE);
        for (ByteRange r : ranges) {
            vda.exportNode().read(r.offset(), ByteBuffer.wrap(out, (int) r.offset(), (int) r.length()));
            vda.exportNode().discard(r.offset(), r.length());
        }
        assertEquals(JobState.FINISHED, job.finish(BackupOutcome.SUCCESS));
        try (var files = Files.list(temp)) {
            assertEquals(0, files.count(), "the temp image is deleted");
        }
        return out;
    }

    private void guestWrites(int count) throws BlockIOException {
        for (int i = 0; i < count; i++) {
            long offset = random.nextInt(SIZE - 1);
            write(offset, (int) Math.min(SIZE - offset, 1 + random.nextInt(2 * C)));
        }
        disk.exportNode().writeZeroes(random.nextInt(SIZE - C), C / 2 + 3, WriteFlag.NONE);
    }

    private void write(long offset, int length) throws BlockIOException {
        byte[] data = new byte[length];
        random.nextBytes(data);
        disk.exportNode().write(offset, ByteBuffer.wrap(data), WriteFlag.NONE);
    }

    private byte[] diskNow() throws BlockIOException {
        byte[] out = new byte[SIZE];
        disk.exportNode().read(0, ByteBuffer.wrap(out));
        return out;
    }

    private static long sumLengths(List<org.fleeced.block.Extent> extents) {
        return extents.stream().mapToLong(org.fleeced.block.Extent::length).sum();
    }
}
