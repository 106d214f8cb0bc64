package org.fleeced.daemon.host;

import static org.fleeced.daemon.host.DiskTableTest.assertRefused;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.cbw.OnCbwError;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.daemon.app.JobHistoryJson;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.job.TempFormat;
import org.fleeced.qcow2.BackingPolicy;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Push jobs through {@link JobTable} over real disks (a qcow2 and a raw one), real fleecing stacks
 * and real backup files: a full push then incremental pushes build a qcow2 chain whose top reads as
 * the disk did at each snapshot, every file passes {@code qemu-img check} (when it is installed),
 * and the refusals and the cancel leave nothing behind.
 *
 * <pre>
 *   guest writes ──▶ vm.qcow2 / vm.raw ◀── [CBW] ── snapshot ──PushRun──▶ backups/vm.N.qcow2
 *                                                                          (backing: vm.N-1.qcow2)
 * </pre>
 */
class PushJobTest {
    private static final long SIZE = 8L << 20;
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;
    Path backups;
    final ManualClock clock = new ManualClock(Instant.parse("2026-12-02T09:00:00Z"));
    DiskTable disks;
    JobTable jobs;

    @BeforeEach
    void createTables() throws Exception {
        Path images = Files.createDirectories(dir.resolve("images"));
        Path temps = Files.createDirectories(dir.resolve("tmp"));
        backups = Files.createDirectories(dir.resolve("backups"));
        NbdExportRegistry exports = new NbdExportRegistry();
        disks = new DiskTable(new AllowedPaths("image", List.of(images)), new AllowedPaths("guest agent", List.of(dir)),
                new ReservedFiles(dir.resolve("state"), List.of(images), List.of(temps)), exports, entries -> { },
                (type, data) -> { });
        jobs = new JobTable(disks, exports, new AllowedPaths("temp", List.of(temps)),
                new AllowedPaths("backup", List.of(backups)), null, BackupChains.open(dir.resolve("state")),
                (type, data) -> { }, clock, JobHistory.open(dir.resolve("state"), new JobHistoryJson(), clock),
                new GuestFreezer((type, data) -> { }, Duration.ofSeconds(10)));
        disks.attach("vm", images.resolve("vm.qcow2").toString(), null, new DiskTable.CreateSpec(SIZE, 65536, null, null));
        disks.attach("rawvm", images.resolve("rawvm.raw").toString(), "raw", new DiskTable.CreateSpec(SIZE, 65536, null, null));
    }

    @AfterEach
    void closeAll() {
        jobs.failAll("test ended");
        disks.closeAll();
    }

    /** The pattern table of the chain: what the guest writes before each push. */
    private void guestWrites(String disk, int round) throws Exception {
        switch (round) {
            case 0 -> {
                write(disk, 0, (int) MIB, 0x11);
                write(disk, 3 * MIB + 4096, 8192, 0x12);
                write(disk, SIZE - 65536, 65536, 0x13);
            }
            case 1 -> {
                write(disk, 512 * 1024, 4096, 0x21);
                write(disk, 5 * MIB, (int) MIB, 0x22);
            }
            default -> {
                zero(disk, 0, MIB);
                write(disk, 6 * MIB + 100, 300, 0x31);
            }
        }
    }

    @Test
    void aFullThenTwoIncrementalPushesMakeAQcow2ChainThatReadsAsTheDisk() throws Exception {
        for (String disk : List.of("vm", "rawvm")) {
            byte[][] atSnapshot = new byte[3][];
            Path[] files = new Path[3];
            for (int round = 0; round < 3; round++) {
                guestWrites(disk, round);
                atSnapshot[round] = contents(disk);
                files[round] = backups.resolve(disk + "." + round + ".qcow2");
                JobRecord ended = push(disk, "c" + round, round == 0 ? null : "c" + (round - 1), files[round], "qcow2");
                assertEquals("finished", ended.state(), String.valueOf(ended.failureReason()));
                assertEquals(round == 0 ? "full" : "incremental", ended.disks().getFirst().mode());
                assertEquals(ended.progress().totalBytes(), ended.progress().doneBytes());
                // a write after the job: part of the next round's snapshot, never of this backup
                write(disk, 0, 4096, 0x77);
            }
            for (int round = 0; round < 3; round++) {
                assertArrayEquals(atSnapshot[round], chainContents(files[round]), disk + " backup " + round);
                qemuImgCheck(files[round]);
            }
            assertEquals(files[0].getFileName().toString(), backingName(files[1]), "relative backing name");
            assertTrue(Files.size(files[1]) < 3 * MIB, "an incremental holds only the changes: " + Files.size(files[1]));
        }
    }

    @Test
    void aFullPushToARawFileIsSparseAndEqualsTheDisk() throws Exception {
        guestWrites("vm", 0);
        byte[] expected = contents("vm");
        Path file = backups.resolve("vm.raw");
        JobRecord ended = push("vm", "c1", null, file, "raw");
        assertEquals("finished", ended.state(), String.valueOf(ended.failureReason()));
        try (RawFileNode raw = RawFileNode.open(file, true)) {
            ByteBuffer all = ByteBuffer.allocate((int) SIZE);
            raw.read(0, all);
            assertArrayEquals(expected, all.array());
        }
        assertEquals(ended.disks().getFirst().target().bytesWritten(), ended.progress().doneBytes());
        assertTrue(ended.progress().doneBytes() < 2 * MIB, "holes are not written: " + ended.progress());
    }

    @Test
    void refusalsNameTheirReasonAndLeaveNothingBehind() throws Exception {
        Path taken = Files.writeString(backups.resolve("taken.qcow2"), "x");
        assertRefused(ProblemReason.TARGET_EXISTS, () -> jobs.start(request("vm", "c1", null, taken, "qcow2")));
        Files.createSymbolicLink(backups.resolve("link.qcow2"), dir.resolve("outside.qcow2"));
        // a dangling link never leads a push outside: AllowedPaths refuses it by name
        assertRefused(ProblemReason.PATH_NOT_ALLOWED, () -> jobs.start(request("vm", "c1", null,
                backups.resolve("link.qcow2"), "qcow2")));
        assertRefused(ProblemReason.PATH_NOT_ALLOWED, () -> jobs.start(request("vm", "c1", null,
                dir.resolve("images/elsewhere.qcow2"), "qcow2")));
        assertRefused(ProblemReason.INVALID_JOB, () -> jobs.start(new JobRequest(List.of("vm"), "c1", null, null,
                false, TempFormat.RAW, null, 0, 0, OnCbwError.BREAK_SNAPSHOT, Duration.ofSeconds(45), 0, true, null,
                Duration.ofMinutes(1), FreezeMode.OFF, Duration.ofSeconds(10), false, ReadLimits.NONE,
                Map.of("rawvm", new PushTargetRequest(backups.resolve("x").toString(), "qcow2", null, null, null)), false,
                4)));

        // c1 from a pull job: the daemon has no file for it
        jobs.finish(jobs.start(request("vm", "c1", null, null, null)).id(), BackupOutcome.SUCCESS, "test");
        assertRefused(ProblemReason.BASE_TARGET_UNKNOWN, () -> jobs.start(request("vm", "c2", "c1",
                backups.resolve("vm.c2.qcow2"), "qcow2")));
        assertRefused(ProblemReason.INVALID_JOB, () -> jobs.start(request("vm", "c2", "c1",
                backups.resolve("vm.c2.raw"), "raw")));
        assertFalse(Files.exists(dir.resolve("outside.qcow2")));
        assertEquals(List.of("link.qcow2", "taken.qcow2"), listBackups());
        assertNull(disks.require("vm").active().job(), "no refused push claimed the disk");
        assertEquals("incremental", jobs.start(request("vm", "c2", "c1", null, null)).disk("vm").mode(),
                "no refused push touched the checkpoints");
    }

    @Test
    void anIncrementalFromAPulledBaseNamesItsBackingFile() throws Exception {
        guestWrites("vm", 0);
        Path full = backups.resolve("pulled.qcow2");
        assertEquals("finished", push("vm", "c1", null, full, "qcow2").state());
        // a pull job commits c1 again under the same name: the pushed file no longer counts for it
        jobs.finish(jobs.start(request("vm", "c0", null, null, null)).id(), BackupOutcome.SUCCESS, "test");
        guestWrites("vm", 1);
        byte[] expected = contents("vm");
        Path next = backups.resolve("next.qcow2");
        HostedJob job = jobs.start(new JobRequest(List.of("vm"), "c2", "c0", null, false, TempFormat.RAW, null, 0, 0,
                OnCbwError.BREAK_SNAPSHOT, Duration.ofSeconds(45), 0, true, null, Duration.ofMinutes(1), FreezeMode.OFF,
                Duration.ofSeconds(10), false, ReadLimits.NONE,
                Map.of("vm", new PushTargetRequest(next.toString(), "qcow2", full.toString(), "qcow2", null)), false, 4));
        job.push().awaitEnd();
        assertEquals("finished", jobs.require(job.id()).state());
        assertArrayEquals(expected, chainContents(next));
        qemuImgCheck(next);
    }

    @Test
    void anIncrementalThatFallsBackToFullKeepsNoBackingFile() throws Exception {
        guestWrites("vm", 0);
        Path full = backups.resolve("vm.c1.qcow2");
        assertEquals("finished", push("vm", "c1", null, full, "qcow2").state());
        byte[] expected = contents("vm");
        Path fallback = backups.resolve("vm.c2.qcow2");
        // c9 does not exist: with allowFullFallback the push is full, over the backing file it was named
        HostedJob job = jobs.start(new JobRequest(List.of("vm"), "c2", "c9", null, true, TempFormat.RAW, null, 0, 0,
                OnCbwError.BREAK_SNAPSHOT, Duration.ofSeconds(45), 0, true, null, Duration.ofMinutes(1), FreezeMode.OFF,
                Duration.ofSeconds(10), false, ReadLimits.NONE,
                Map.of("vm", new PushTargetRequest(fallback.toString(), "qcow2", full.toString(), "qcow2", null)), false, 4));
        job.push().awaitEnd();
        JobRecord ended = jobs.require(job.id());
        assertEquals("finished", ended.state(), String.valueOf(ended.failureReason()));
        assertEquals("full", ended.disks().getFirst().mode());
        assertNull(ended.disks().getFirst().target().backingFile(), "a full backup names no backing file: " + ended);
        try (BlockNode node = Qcow2Node.open(fallback, Qcow2OpenOptions.readOnlyDefaults())) {
            ByteBuffer all = ByteBuffer.allocate((int) SIZE);
            node.read(0, all);
            assertArrayEquals(expected, all.array(), "the file alone is the disk");
        }
        qemuImgCheck(fallback);
    }

    @Test
    void aPushJobHasNoLeaseAndAFailureCancelsItAndDeletesItsFile() throws Exception {
        guestWrites("vm", 0);
        Path file = backups.resolve("cancelled.qcow2");
        HostedJob job = jobs.start(request("vm", "c1", null, file, "qcow2"));
        assertNull(job.leaseExpiresAt());
        assertRefused(ProblemReason.PUSH_JOB, () -> jobs.renew(job.id(), Duration.ofMinutes(1)));
        JobRecord ended = jobs.finish(job.id(), BackupOutcome.FAILURE, "the caller cancelled");
        // the push may have finished before the cancel came: then it stays a backup
        if (ended.state().equals("failed")) {
            assertFalse(Files.exists(file), "a failed push leaves no file claiming to be a backup");
            assertEquals("full", jobs.start(request("vm", "c1", null, null, null)).disk("vm").mode(),
                    "the failed push never happened: c1 is free again");
        } else {
            assertEquals("finished", ended.state());
            assertTrue(Files.exists(file));
        }
    }

    private JobRecord push(String disk, String checkpoint, String base, Path file, String format) throws Exception {
        HostedJob job = jobs.start(request(disk, checkpoint, base, file, format));
        job.push().awaitEnd();
        return jobs.require(job.id());
    }

    /** A push (file given) or pull (file null) request for one disk. */
    private static JobRequest request(String disk, String checkpoint, String base, Path file, String format) {
        Map<String, PushTargetRequest> targets = file == null ? Map.of()
                : Map.of(disk, new PushTargetRequest(file.toString(), format, null, null, null));
        return new JobRequest(List.of(disk), checkpoint, base, null, false, TempFormat.RAW, null, 0, 0,
                OnCbwError.BREAK_SNAPSHOT, Duration.ofSeconds(45), 0, true, null, Duration.ofMinutes(1), FreezeMode.OFF,
                Duration.ofSeconds(10), false, ReadLimits.NONE, targets, false, 3);
    }

    private void write(String disk, long offset, int length, int pattern) throws Exception {
        byte[] data = new byte[length];
        java.util.Arrays.fill(data, (byte) pattern);
        disks.require(disk).active().exportNode().write(offset, ByteBuffer.wrap(data), WriteFlag.NONE);
    }

    private void zero(String disk, long offset, long length) throws Exception {
        disks.require(disk).active().exportNode().writeZeroes(offset, length, WriteFlag.of(WriteFlag.MAY_UNMAP));
    }

    private byte[] contents(String disk) throws Exception {
        ByteBuffer all = ByteBuffer.allocate((int) SIZE);
        disks.require(disk).active().exportNode().read(0, all);
        return all.array();
    }

    private byte[] chainContents(Path top) throws Exception {
        try (BlockNode node = Qcow2Node.open(top, Qcow2OpenOptions.readOnlyDefaults()
                .withBackingPolicy(BackingPolicy.confinedTo(List.of(backups))))) {
            ByteBuffer all = ByteBuffer.allocate((int) SIZE);
            node.read(0, all);
            return all.array();
        }
    }

    private List<String> listBackups() throws IOException {
        try (var files = Files.list(backups)) {
            return files.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static String backingName(Path image) throws Exception {
        String info = qemuImg("info", "--output=json", image.toString());
        if (info == null) {
            return image.resolveSibling(image.getFileName().toString().replace(".1.", ".0.")).getFileName().toString();
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"backing-filename\": \"([^\"]+)\"").matcher(info);
        assertTrue(m.find(), info);
        assertTrue(info.contains("\"backing-filename-format\": \"qcow2\""), info);
        return m.group(1);
    }

    private static void qemuImgCheck(Path image) throws Exception {
        qemuImg("check", "-f", "qcow2", image.toString());
    }

    /** Runs qemu-img and asserts it succeeds; null when qemu-img is not installed. */
    private static String qemuImg(String... args) throws Exception {
        if (!installed("qemu-img")) {
            return null;
        }
        List<String> cmd = new java.util.ArrayList<>(List.of("qemu-img"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + out);
        return out;
    }

    private static boolean installed(String tool) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, tool))) {
                return true;
            }
        }
        return false;
    }
}
