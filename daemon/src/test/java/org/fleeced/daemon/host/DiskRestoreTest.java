package org.fleeced.daemon.host;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.cbw.OnCbwError;
import org.fleeced.daemon.app.JobHistoryJson;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.job.TempFormat;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;
import org.fleeced.restore.RestoreLimits;
import org.fleeced.restore.RestoreProgress;
import org.fleeced.restore.RestoredClusters;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Instant restore through the {@link DiskTable}: a disk created from a qcow2 backup chain in the
 * backup directories is usable at once, refuses jobs while it restores (409 RESTORING), resumes
 * when attached again, and stands alone at the end; sources outside backupDirs, or without a
 * format, are refused.
 */
class DiskRestoreTest {
    private static final long SIZE = 2L << 20;

    @TempDir
    Path dir;
    Path images;
    Path backups;
    Path temps;
    Path incr;
    byte[] expected = new byte[(int) SIZE];
    final List<String> events = new ArrayList<>();
    DiskTable disks;
    JobTable jobs;

    @BeforeEach
    void createTablesAndBackupChain() throws Exception {
        images = Files.createDirectories(dir.resolve("images"));
        backups = Files.createDirectories(dir.resolve("backups"));
        temps = Files.createDirectories(dir.resolve("tmp"));
        disks = new DiskTable(new AllowedPaths("image", List.of(images)), new AllowedPaths("guest agent", List.of(dir)),
                new ReservedFiles(dir.resolve("state"), List.of(images), List.of(temps)), new NbdExportRegistry(),
                entries -> { }, (type, data) -> events.add(type + " " + data.get("disk")),
                new RestoreSources(new AllowedPaths("backup", List.of(backups)), null));
        jobs = new JobTable(disks, new NbdExportRegistry(), new AllowedPaths("temp", List.of(temps)),
                new AllowedPaths("backup", List.of(backups)), null, BackupChains.open(dir.resolve("state")), (type, data) -> { },
                java.time.Clock.systemUTC(), JobHistory.open(dir.resolve("state"), new JobHistoryJson(), java.time.Clock.systemUTC()),
                new GuestFreezer((type, data) -> { }, Duration.ofSeconds(10)));
        Path full = backups.resolve("full.qcow2");
        incr = backups.resolve("incr.qcow2");
        Qcow2Creator.create(full, Qcow2CreateOptions.of(SIZE));
        write(full, 0, 1 << 20, 5);
        Qcow2Creator.create(incr, Qcow2CreateOptions.of(SIZE).withBacking("full.qcow2", "qcow2"));
        write(incr, 512 << 10, 100_000, 6);
    }

    @AfterEach
    void closeAll() {
        jobs.failAll("test ended");
        disks.closeAll();
    }

    @Test
    void aRestoringDiskIsUsableRefusesJobsResumesAndEndsAlone() throws Exception {
        AttachedDisk disk = disks.attach("vm1", images.resolve("vm1.qcow2").toString(), null, restoreSpec(64 << 10));
        assertArrayEquals(slice(500 << 10, 200_000), read(disk.active().exportNode(), 500 << 10, 200_000));
        HostRefusal refused = assertThrows(HostRefusal.class, () -> jobs.start(job()));
        assertEquals(ProblemReason.RESTORING, refused.reason());
        assertTrue(disk.active().restoreSource().startsWith("qcow2:"), disk.active().restoreSource());

        disks.detach("vm1", false);
        assertTrue(Files.exists(RestoredClusters.sidecarFor(images.resolve("vm1.qcow2"))));
        AttachedDisk again = disks.attach("vm1", images.resolve("vm1.qcow2").toString(), "qcow2", null);
        await().until(() -> !again.active().restoring());
        disks.publishRestoreProgress();
        disks.publishRestoreProgress();
        assertEquals(1, events.stream().filter(e -> e.equals("restore-complete vm1")).count(), events.toString());
        assertEquals(RestoreProgress.State.COMPLETE, again.active().restoreProgress().orElseThrow().state());
        assertArrayEquals(expected, read(again.active().exportNode(), 0, (int) SIZE));
        jobs.start(job());
        jobs.failAll("checked");
        disks.detach("vm1", false);
        assertFalse(Files.exists(RestoredClusters.sidecarFor(images.resolve("vm1.qcow2"))));
        try (Qcow2Node alone = Qcow2Node.open(images.resolve("vm1.qcow2"), Qcow2OpenOptions.readOnlyDefaults())) {
            assertArrayEquals(expected, read(alone, 0, (int) SIZE));
        }
    }

    @Test
    void sourcesAreConfinedToTheBackupDirectoriesAndNeedAFormat() throws Exception {
        Path outside = images.resolve("stray.qcow2");
        Qcow2Creator.create(outside, Qcow2CreateOptions.of(SIZE));
        RestoreSources sources = disks.restoreSources();
        assertEquals(ProblemReason.PATH_NOT_ALLOWED,
                assertThrows(HostRefusal.class, () -> sources.of(outside.toString(), null, "qcow2")).reason());
        assertEquals(ProblemReason.FORMAT_REQUIRED,
                assertThrows(HostRefusal.class, () -> sources.of(incr.toString(), null, null)).reason());
        assertEquals(ProblemReason.INVALID_REQUEST,
                assertThrows(HostRefusal.class, () -> sources.of(incr.toString(), "nbd://h/e", "qcow2")).reason());
        Path escaping = backups.resolve("escaping.qcow2");
        Qcow2Creator.create(escaping, Qcow2CreateOptions.of(SIZE).withBacking(outside.toString(), "qcow2"));
        assertThrows(Exception.class, () -> disks.attach("vm2", images.resolve("vm2.qcow2").toString(), null,
                new DiskTable.CreateSpec(0, 65536, null, null, sources.of(escaping.toString(), null, "qcow2"), RestoreLimits.DEFAULT)));
        assertTrue(disks.find("vm2").isEmpty());
    }

    private DiskTable.CreateSpec restoreSpec(long bytesPerSecond) throws HostRefusal {
        return new DiskTable.CreateSpec(0, 65536, null, null,
                disks.restoreSources().of(incr.toString(), null, "qcow2"), RestoreLimits.of(bytesPerSecond));
    }

    private JobRequest job() {
        return new JobRequest(List.of("vm1"), "c1", null, null, false, TempFormat.RAW, null, 0, 0,
                OnCbwError.BREAK_SNAPSHOT, Duration.ofSeconds(45), 0, true, null, Duration.ofMinutes(10),
                FreezeMode.OFF, Duration.ofSeconds(10), false, ReadLimits.NONE, null, false, 4);
    }

    private void write(Path image, int offset, int length, int seed) throws Exception {
        byte[] data = new byte[length];
        for (int i = 0; i < length; i++) {
            data[i] = (byte) (i * 7 + seed);
        }
        try (Qcow2Node n = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            n.write(offset, ByteBuffer.wrap(data), WriteFlag.NONE);
        }
        System.arraycopy(data, 0, expected, offset, length);
    }

    private byte[] slice(int offset, int length) {
        byte[] out = new byte[length];
        System.arraycopy(expected, offset, out, 0, length);
        return out;
    }

    private static byte[] read(BlockNode node, long offset, int length) throws Exception {
        byte[] out = new byte[length];
        node.read(offset, ByteBuffer.wrap(out));
        return out;
    }
}
