package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.WriteFlag;
import org.fleeced.checkpoint.BackupBase;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.checkpoint.CheckpointInfo;
import org.fleeced.checkpoint.CheckpointSet;
import org.fleeced.checkpoint.CheckpointStart;
import org.fleeced.checkpoint.CheckpointState;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.disk.DiskSpec;
import org.fleeced.disk.KillCopy;
import org.fleeced.job.FleecingJob;
import org.fleeced.job.FleecingJobSpec;
import org.fleeced.job.JobState;
import org.fleeced.job.TempSettings;
import org.fleeced.qcow2.ImageOpener;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A checkpoint transition whose journal record cannot be made durable (the fdatasync fails, as
 * on a disk's write error) answers EIO and changes nothing: the checkpoints, their recording and
 * their bits are as before, and the same transition succeeds once the disk works again. A crash
 * afterwards recovers exactly the transitions that succeeded.
 * <pre>
 *   disk (qcow2 | raw) on a PowerLossFileSystem whose forces of IMAGE.fleeced-journal fail on demand
 *   a, write ─▶ [journal fails] create b, remove a, clear a, job j: each EIO, a as it was, recording
 *   [journal works] job j, write ─▶ [fails] end(j, failure): EIO, j still there ─▶ [works] again: j merged into a
 *   create b ─▶ kill -9 copy ─▶ a, b recovered
 *   a fleecing job whose COMMIT cannot be recorded: finish EIO, job failed, never happened; a retry works
 * </pre>
 */
class JournalWriteFailureTest {
    private static final long SIZE = 16L << 20;
    private static final long G = DiskOpener.DEFAULT_GRANULARITY;
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(ImageOpener.Format.class)
    void aTransitionWhoseRecordFailsChangesNothing(ImageOpener.Format format) throws Exception {
        Path image = newImage(format);
        PowerLossFileSystem fs = new PowerLossFileSystem();
        try (ActiveDisk disk = DiskOpener.open(DiskSpec.of("vm", fs.wrap(image), format))) {
            CheckpointSet set = disk.checkpoints();
            set.create("a");
            write(disk, 0);
            List<CheckpointInfo> before = set.list();
            assertEquals(List.of(new CheckpointInfo("a", CheckpointState.RECORDING, true, G)), before);

            fs.failForces(file -> file.getFileName().toString().endsWith(".fleeced-journal"));
            assertEio(() -> set.create("b"), "create b");
            assertEquals(before, set.list(), "a failed create adds nothing, and a still records");
            write(disk, 5 * G);
            assertEquals(2 * G, set.list().getFirst().dirtyBytes(), "a records the writes after the failed create");
            before = set.list();
            assertEio(() -> set.remove("a"), "remove a");
            assertEio(() -> set.clear("a"), "clear a");
            assertEio(() -> set.setEnabled("a", false), "disable a");
            assertEio(() -> set.begin("j", BackupBase.incremental()), "job j's start");
            assertEquals(before, set.list(), "no failed transition changed a");

            fs.failForces(file -> false);
            CheckpointStart job = set.begin("j", BackupBase.incremental());
            write(disk, 9 * G);
            fs.failForces(file -> file.getFileName().toString().endsWith(".fleeced-journal"));
            assertEio(() -> set.end(job, BackupOutcome.FAILURE), "job j's failure");
            assertEquals(List.of("a", "j"), names(set), "j stays until its end is recorded");
            assertEquals(G, set.list().getLast().dirtyBytes(), "j keeps the write it recorded");

            fs.failForces(file -> false);
            set.end(job, BackupOutcome.FAILURE);
            assertEquals(List.of(new CheckpointInfo("a", CheckpointState.RECORDING, true, 3 * G)), set.list(),
                    "the failed job never happened: its write went back into a, which records again");
            set.create("b");

            Path crashed = KillCopy.of(image, dir.resolve("crash"));
            try (ActiveDisk after = DiskOpener.open(DiskSpec.of("vm", crashed, format))) {
                assertEquals(List.of("a", "b"), names(after.checkpoints()), "the transitions that succeeded, and only they");
                after.checkpoints().list().forEach(c -> assertEquals(CheckpointState.RECOVERED, c.state(), c.toString()));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(ImageOpener.Format.class)
    void aJobWhoseCommitCannotBeRecordedFailsAndNeverHappened(ImageOpener.Format format) throws Exception {
        Path image = newImage(format);
        Path temp = Files.createDirectory(dir.resolve("temp"));
        PowerLossFileSystem fs = new PowerLossFileSystem();
        try (ActiveDisk disk = DiskOpener.open(DiskSpec.of("vm", fs.wrap(image), format))) {
            CheckpointSet set = disk.checkpoints();
            set.create("a");
            FleecingJob job = FleecingJob.start(FleecingJobSpec.builder(List.of(disk), TempSettings.raw(temp))
                    .checkpoint("j").base(BackupBase.incremental()).build());
            write(disk, 0);
            AtomicBoolean failedOnce = new AtomicBoolean();
            fs.failForces(file -> file.getFileName().toString().endsWith(".fleeced-journal")
                    && failedOnce.compareAndSet(false, true));
            assertEio(() -> job.finish(BackupOutcome.SUCCESS), "the finish whose COMMIT fails");
            assertEquals(JobState.FAILED, job.state());
            assertEquals(List.of(new CheckpointInfo("a", CheckpointState.RECORDING, true, G)), set.list(),
                    "the job never happened: j is gone, its write went back into a, which records");

            FleecingJob retry = FleecingJob.start(FleecingJobSpec.builder(List.of(disk), TempSettings.raw(temp))
                    .checkpoint("j").base(BackupBase.incremental()).build());
            assertEquals(JobState.FINISHED, retry.finish(BackupOutcome.SUCCESS), "the same name works on the retry");
            try (ActiveDisk after = DiskOpener.open(DiskSpec.of("vm", KillCopy.of(image, dir.resolve("crash")), format))) {
                assertEquals(List.of("a", "j"), names(after.checkpoints()));
            }
        }
    }

    /**
     * A job over two disks whose COMMIT is recorded on the first and fails on the second: the job
     * fails on both, the first disk's commit is taken back (a crash afterwards does not bring it
     * back), and a retry with the same checkpoint name works on both.
     */
    @ParameterizedTest
    @EnumSource(ImageOpener.Format.class)
    void aCommitThatFailsOnOneDiskIsTakenBackOnAll(ImageOpener.Format format) throws Exception {
        Path first = newImage(format);
        Path second = Files.createDirectory(dir.resolve("second")).resolve(first.getFileName());
        Files.copy(first, second);
        Path temp = Files.createDirectory(dir.resolve("temp"));
        PowerLossFileSystem fs = new PowerLossFileSystem();
        try (ActiveDisk a = DiskOpener.open(DiskSpec.of("vm-a", fs.wrap(first), format));
             ActiveDisk b = DiskOpener.open(DiskSpec.of("vm-b", fs.wrap(second), format))) {
            a.checkpoints().create("c1");
            b.checkpoints().create("c1");
            FleecingJob job = FleecingJob.start(FleecingJobSpec.builder(List.of(a, b), TempSettings.raw(temp))
                    .checkpoint("c2").base(BackupBase.incremental()).build());
            write(a, 0);
            write(b, G);
            AtomicBoolean failedOnce = new AtomicBoolean();
            fs.failForces(file -> file.startsWith(second.getParent())
                    && file.getFileName().toString().endsWith(".fleeced-journal")
                    && failedOnce.compareAndSet(false, true));
            assertEio(() -> job.finish(BackupOutcome.SUCCESS), "the finish whose COMMIT fails on the second disk");
            assertEquals(JobState.FAILED, job.state());
            for (ActiveDisk disk : List.of(a, b)) {
                assertEquals(List.of(new CheckpointInfo("c1", CheckpointState.RECORDING, true, G)), disk.checkpoints().list(),
                        disk.name() + ": c2 is gone, its write went back into c1, which records");
            }
            try (ActiveDisk after = DiskOpener.open(DiskSpec.of("vm-a", KillCopy.of(first, dir.resolve("crash")), format))) {
                assertEquals(List.of("c1"), names(after.checkpoints()), "the taken-back commit stays taken back");
            }

            FleecingJob retry = FleecingJob.start(FleecingJobSpec.builder(List.of(a, b), TempSettings.raw(temp))
                    .checkpoint("c2").base(BackupBase.incremental()).build());
            assertEquals(JobState.FINISHED, retry.finish(BackupOutcome.SUCCESS), "the same name works on the retry");
            assertEquals(List.of("c1", "c2"), names(a.checkpoints()));
            assertEquals(List.of("c1", "c2"), names(b.checkpoints()));
        }
    }

    /** A call the failing journal must refuse with EIO. */
    @FunctionalInterface
    private interface Transition {
        void run() throws Exception;
    }

    private static void assertEio(Transition transition, String what) {
        BlockIOException e = assertThrows(BlockIOException.class, transition::run, what);
        assertEquals(Errno.EIO, e.errno(), what + ": " + e);
    }

    private static void write(ActiveDisk disk, long offset) throws BlockIOException {
        disk.exportNode().write(offset, ByteBuffer.allocate(4096), WriteFlag.NONE);
    }

    private static List<String> names(CheckpointSet set) {
        return set.list().stream().map(CheckpointInfo::name).toList();
    }

    private Path newImage(ImageOpener.Format format) throws Exception {
        Path image = dir.resolve("vm." + format.name().toLowerCase(Locale.ROOT));
        if (format == ImageOpener.Format.QCOW2) {
            Qcow2Creator.create(image, Qcow2CreateOptions.of(SIZE));
        } else {
            try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
                file.setLength(SIZE);
            }
        }
        return image;
    }
}
