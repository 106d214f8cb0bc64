package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #16: push targets other than a local file that has room, and the faults of a target.
 *
 * <pre>
 *   daemon ──push──▶ nbd+unix socket ──▶ qemu-nbd ──▶ t0.qcow2 ◀── t1.qcow2 (overlay, served for the incremental)
 *   daemon ──push──▶ nbd+unix socket ──▶ nbdkit --filter=delay file ──✗ (kill -9 mid-copy)
 *   daemon ──push──▶ backups on an 8 MiB tmpfs ──✗ (ENOSPC)
 * </pre>
 *
 * Every fault ends the job {@code failed} with the cause, leaves no file claiming to be a backup,
 * lets the guest write on, and leaves the checkpoints as if the job never ran: a retry with the
 * same checkpoint name is incremental from the last good one and restores to the disk.
 */
class PushTargetsIT {
    private static final long DISK = 64 << 20;

    @TempDir
    Path dir;

    @Test
    void aPushChainIntoQemuNbdExportsRestoresToTheDisk() throws Exception {
        Tool.require("fio", "nbdcopy", "qemu-img", "qemu-nbd");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", DISK);
            String active = daemon.nbdUri("vm");
            PushBackupIT.fio(active, 0).ok();
            List<Path> files = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                if (i > 0) {
                    PushBackupIT.fio(active, i).ok();
                }
                Path expected = NbdDriver.copy(active, dir.resolve("expected-" + i + ".raw"));
                Path file = PushBackupIT.nextChainFile(dir, files, DISK);
                Path socket = dir.resolve("t" + i + ".sock");
                Process server = Tool.start(List.of("qemu-nbd", "-f", "qcow2", "-x", "backup", "-k", socket.toString(),
                        file.toString()));
                await("qemu-nbd listens").forever().pollInterval(Duration.ofMillis(50)).until(() -> Files.exists(socket));
                ObjectNode request = RestClient.jobRequest("c" + i, "vm");
                request.putObject("targets").putObject("vm").put("uri", "nbd+unix:///backup?socket=" + socket);
                if (i > 0) {
                    request.put("incrementalFrom", "c" + (i - 1));
                }
                JsonNode ended = PushBackupIT.awaitEnd(rest, rest.startJob(request).path("id").asText());
                assertEquals("finished", ended.path("state").asText(), ended.toString());
                assertEquals(i == 0 ? "full" : "incremental", ended.path("disks").get(0).path("mode").asText());
                assertTrue(ended.path("disks").get(0).path("target").path("uri").asText().startsWith("nbd+unix:///backup"),
                        ended.toString());
                // qemu-nbd serves one client, then exits with the image closed
                assertEquals(0, server.waitFor(), "qemu-nbd exit");
                Tool.run("qemu-img", "check", "-f", "qcow2", file.toString()).ok();
                Path restored = dir.resolve("restored-" + i + ".raw");
                Tool.run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", file.toString(), restored.toString()).ok();
                NbdDriver.assertSameBytes(expected, restored, "the NBD chain up to push " + i);
            }
        }
    }

    @Test
    void aTargetServerKilledMidCopyFailsTheJobAndTheRetryHasEveryChange() throws Exception {
        Tool.require("fio", "nbdcopy", "qemu-img", "nbdkit");
        try (DaemonUnderTest daemon = DaemonUnderTest.in(dir.resolve("daemon"))
                .config("backupDirs", "[" + dir.resolve("backups") + "]").start()) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", DISK);
            String active = daemon.nbdUri("vm");
            PushBackupIT.fio(active, 0).ok();
            Path full = dir.resolve("backups/vm.c0.qcow2");
            assertEquals("finished", push(rest, "c0", null, Map.of("path", full.toString(), "format", "qcow2"))
                    .path("state").asText());
            PushBackupIT.fio(active, 1).ok();

            Path raw = dir.resolve("remote.raw");
            Tool.run("truncate", "-s", String.valueOf(DISK), raw.toString()).ok();
            Path socket = dir.resolve("nbdkit.sock");
            // every write takes five seconds: the first one is still on the wire when the server dies
            Process server = Tool.start(List.of("nbdkit", "-f", "-U", socket.toString(), "--filter=delay", "file",
                    raw.toString(), "wdelay=5"));
            await("nbdkit listens").forever().pollInterval(Duration.ofMillis(50)).until(() -> Files.exists(socket));
            ObjectNode request = RestClient.jobRequest("c1", "vm").put("incrementalFrom", "c0");
            request.putObject("targets").putObject("vm").put("uri", "nbd+unix:///?socket=" + socket);
            String id = rest.startJob(request).path("id").asText();
            await("the push is copying").forever().pollInterval(Duration.ofMillis(50))
                    .until(() -> rest.job(id).path("progress").path("totalBytes").asLong() > 0);
            server.destroyForcibly();
            server.waitFor();

            JsonNode failed = PushBackupIT.awaitEnd(rest, id);
            assertEquals("failed", failed.path("state").asText(), failed.toString());
            assertTrue(failed.path("failureReason").asText().contains("NBD connection"), failed.toString());
            assertTrue(daemon.alive(), daemon.log());
            NbdDriver.write(active, "-P 0x5a 0 64k");
            assertRetryHasEveryChange(rest, active, full);
        }
    }

    @Test
    void aFullBackupDirectoryFailsTheJobAndLeavesNoFile() throws Exception {
        Tool.require("fio", "nbdcopy", "qemu-img");
        assumeTrue(Tool.run("id", "-u").output().trim().equals("0"), "mounting a tmpfs needs root");
        Path small = Files.createDirectories(dir.resolve("small"));
        Path backups = Files.createDirectories(dir.resolve("backups"));
        Tool.run("mount", "-t", "tmpfs", "-o", "size=8M", "tmpfs", small.toString()).ok();
        try (DaemonUnderTest daemon = DaemonUnderTest.in(dir.resolve("daemon"))
                .config("backupDirs", "[" + small + ", " + backups + "]").start()) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", DISK);
            String active = daemon.nbdUri("vm");
            PushBackupIT.fio(active, 0).ok();
            Path full = backups.resolve("vm.c0.qcow2");
            assertEquals("finished", push(rest, "c0", null, Map.of("path", full.toString(), "format", "qcow2"))
                    .path("state").asText());
            PushBackupIT.fio(active, 1).ok();
            PushBackupIT.fio(active, 2).ok();

            Path cramped = small.resolve("vm.c1.qcow2");
            JsonNode failed = push(rest, "c1", "c0", Map.of("path", cramped.toString(), "format", "qcow2",
                    "backingFile", full.toString()));
            assertEquals("failed", failed.path("state").asText(), failed.toString());
            assertTrue(failed.path("failureReason").asText().contains("ENOSPC"), failed.toString());
            assertFalse(Files.exists(cramped), "a failed push leaves no file claiming to be a backup");
            assertTrue(daemon.alive(), daemon.log());
            NbdDriver.write(active, "-P 0x5a 0 64k");
            assertRetryHasEveryChange(rest, active, full);
        } finally {
            Tool.run("umount", small.toString()).ok();
        }
    }

    /** c1 again, incremental from c0, into a file: it holds every change since c0, the failed job's too. */
    private void assertRetryHasEveryChange(RestClient rest, String active, Path full) throws Exception {
        Path expected = NbdDriver.copy(active, dir.resolve("expected-retry.raw"));
        Path retry = full.resolveSibling("vm.c1-retry.qcow2");
        JsonNode ended = push(rest, "c1", "c0", Map.of("path", retry.toString(), "format", "qcow2"));
        assertEquals("finished", ended.path("state").asText(), ended.toString());
        assertEquals("incremental", ended.path("disks").get(0).path("mode").asText(),
                "the failed job never happened: c1 is free and c0 is still the newest: " + ended);
        Path restored = dir.resolve("restored-retry.raw");
        Tool.run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", retry.toString(), restored.toString()).ok();
        NbdDriver.assertSameBytes(expected, restored, "c0 plus the retried c1");
    }

    private static JsonNode push(RestClient rest, String checkpoint, String base, Map<String, String> target)
            throws Exception {
        ObjectNode request = RestClient.jobRequest(checkpoint, "vm");
        ObjectNode t = request.putObject("targets").putObject("vm");
        target.forEach(t::put);
        if (base != null) {
            request.put("incrementalFrom", base);
        }
        return PushBackupIT.awaitEnd(rest, rest.startJob(request).path("id").asText());
    }
}
