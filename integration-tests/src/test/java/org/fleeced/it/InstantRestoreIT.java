package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Instant restore (#17) against a running daemon: a disk created from a backup is usable at once
 * while its data streams in, and ends as an ordinary image equal to the backup overlaid with what
 * the guest wrote meanwhile.
 *
 * <pre>
 *   backup (STATE/backups/full.qcow2 ◀── incr.qcow2, or qemu-nbd over a raw copy)
 *        │ restoreFrom
 *        ▼
 *   POST /v1/disks ─▶ images/vm.qcow2 + copy-on-read ─▶ NBD export vm ◀── qemu-io, fio (verify)
 *                         stream: restoreLimits ─▶ complete: filter and source dropped
 * </pre>
 *
 * Rows: a qcow2 chain while fio writes 4 KiB blocks (partial clusters) and qemu-io reads and
 * writes unrestored ranges; kill -9 mid-stream, then resume; an NBD source that disconnects
 * mid-stream and comes back.
 */
class InstantRestoreIT {
    private static final long DISK = 48L << 20;
    /** fio's window: the only bytes the exact comparison leaves to fio's own verification. */
    private static final long FIO_FROM = 16L << 20;
    private static final long FIO_SIZE = 8L << 20;
    static final Duration LONG = Duration.ofMinutes(10);

    @TempDir
    Path dir;

    @Test
    void aQcow2ChainRestoresWhileTheGuestRunsAndTheImageEndsAlone() throws Exception {
        Tool.require("qemu-img", "qemu-io", "fio", "nbdcopy");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            Path incr = backupChain(daemon);
            Path expected = convert(incr, dir.resolve("expected.raw"));
            JsonNode disk = createRestoring(daemon, Map.of("path", incr.toString(), "format", "qcow2"), 2 << 20);
            assertEquals("running", disk.path("restore").path("state").asText(), disk.toString());
            String uri = daemon.nbdUri("vm");

            CompletableFuture<Tool> fio = CompletableFuture.supplyAsync(() -> fio(uri));
            // reads of ranges the stream has not reached: the backup's patterns, fetched on demand
            qemuIo(uri, "read -P 0x33 40M 1M", "read -P 0x22 30M 64k", "read -P 0 44M 1M");
            // partial-cluster writes into unrestored clusters: the rest of each cluster stays the backup's
            qemuIo(uri, "write -P 0x7e 41M 4k", "write -P 0x7f 30M 512", "flush");
            patch(expected, 41L << 20, 4096, 0x7e);
            patch(expected, 30L << 20, 512, 0x7f);
            qemuIo(uri, "read -P 0x33 40M 1M", "read -P 0x7e 41M 4k", "read -P 0x33 42995712 61440");
            assertEquals("RESTORING", daemon.rest().post("v1/jobs", RestClient.jobRequest("c1", "vm"))
                    .expect(409).json().path("reason").asText());
            fio.join().ok();

            JsonNode done = awaitComplete(daemon);
            assertEquals(DISK, done.path("restore").path("doneBytes").asLong(), done.toString());
            Path actual = NbdDriver.copy(uri, dir.resolve("actual.raw"));
            copyWindow(actual, expected, FIO_FROM, FIO_SIZE);
            NbdDriver.assertSameBytes(expected, actual, "restored disk vs backup + guest writes");
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm"));
            daemon.rest().finish(job.path("id").asText(), "success");
        }
        Path image = dir.resolve("daemon/images/vm.qcow2");
        JsonNode info = RestClient.JSON.readTree(Tool.run("qemu-img", "info", "--output=json", "-U", image.toString()).ok().output());
        assertFalse(info.has("backing-filename"), "the restored image references no other file: " + info);
        Tool.run("qemu-img", "check", "-U", image.toString()).ok();
        assertFalse(Files.exists(dir.resolve("daemon/images/vm.qcow2.fleeced-restore")));
    }

    @Test
    void aKilledDaemonResumesTheRestoreAndKeepsWhatTheGuestFlushed() throws Exception {
        Tool.require("qemu-img", "qemu-io", "nbdcopy");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            Path incr = backupChain(daemon);
            Path expected = convert(incr, dir.resolve("expected.raw"));
            createRestoring(daemon, Map.of("path", incr.toString(), "format", "qcow2"), 1 << 20);
            qemuIo(daemon.nbdUri("vm"), "read -P 0x33 40M 64k", "write -P 0x44 40M 1000", "flush");
            patch(expected, 40L << 20, 1000, 0x44);
            await().atMost(LONG).until(() -> daemon.rest().disk("vm").path("restore").path("doneBytes").asLong() >= 4 << 20);
            daemon.kill();
            daemon.restart();
            JsonNode done = awaitComplete(daemon);
            assertTrue(done.path("restore").path("source").asText().startsWith("qcow2:"), done.toString());
            NbdDriver.assertSameBytes(expected, NbdDriver.copy(daemon.nbdUri("vm"), dir.resolve("actual.raw")),
                    "restored after kill -9 vs backup + flushed guest write");
        }
    }

    @Test
    void anNbdSourceThatDisconnectsFailsOnlyUnrestoredReadsAndIsRetried() throws Exception {
        Tool.require("qemu-img", "qemu-io", "qemu-nbd", "nbdcopy");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            Path expected = convert(backupChain(daemon), dir.resolve("expected.raw"));
            Path source = Files.copy(expected, dir.resolve("source.raw"));
            Path socket = dir.resolve("source.sock");
            Process server = qemuNbd(source, socket);
            try {
                String uri = "nbd+unix:///?socket=" + socket;
                createRestoring(daemon, Map.of("uri", uri), 1 << 20);
                String vm = daemon.nbdUri("vm");
                qemuIo(vm, "read -P 0x11 0 64k");
                await().atMost(LONG).until(() -> daemon.rest().disk("vm").path("restore").path("doneBytes").asLong() >= 2 << 20);
                server.destroyForcibly().waitFor();
                Tool unrestored = Tool.run("qemu-io", "-f", "raw", "-c", "read -P 0x33 40M 4k", vm);
                assertTrue(unrestored.output().contains("Input/output error"), unrestored.output());
                qemuIo(vm, "read -P 0x11 0 64k");
                await().atMost(LONG).until(() -> daemon.rest().disk("vm").path("restore").path("retries").asInt() > 0);
                server = qemuNbd(source, socket);
                awaitComplete(daemon);
                NbdDriver.assertSameBytes(expected, NbdDriver.copy(vm, dir.resolve("actual.raw")),
                        "restored through a reconnected NBD source");
            } finally {
                server.destroyForcibly().waitFor();
            }
        }
    }

    /** full.qcow2 (patterns 0x11, 0x22, 0x33 with holes between) ◀── incr.qcow2 (0x55 over part), in STATE/backups. */
    static Path backupChain(DaemonUnderTest daemon) throws IOException, InterruptedException {
        Path backups = daemon.dir().resolve("state/backups");
        Path full = backups.resolve("full.qcow2");
        Path incr = backups.resolve("incr.qcow2");
        Tool.run("qemu-img", "create", "-q", "-f", "qcow2", full.toString(), Long.toString(DISK)).ok();
        Tool.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 8M", "-c", "write -P 0x22 24M 8M",
                "-c", "write -P 0x33 36M 6M", full.toString()).ok();
        Tool.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "full.qcow2", "-F", "qcow2", incr.toString()).ok();
        Tool.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x55 4M 2M", "-c", "write -P 0x55 20M 1M", incr.toString()).ok();
        return incr;
    }

    static JsonNode createRestoring(DaemonUnderTest daemon, Map<String, Object> from, long bytesPerSecond)
            throws IOException, InterruptedException {
        Map<String, Object> request = Map.of("name", "vm", "path", daemon.images().resolve("vm.qcow2").toString(),
                "create", Map.of("restoreFrom", from, "restoreLimits", Map.of("bytesPerSecond", bytesPerSecond)));
        return daemon.rest().post("v1/disks", request).expect(201).json();
    }

    static JsonNode awaitComplete(DaemonUnderTest daemon) {
        return await().atMost(LONG).until(() -> daemon.rest().disk("vm"),
                d -> d.path("restore").path("state").asText().equals("complete"));
    }

    static Path convert(Path qcow2, Path raw) throws IOException, InterruptedException {
        Tool.run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", qcow2.toString(), raw.toString()).ok();
        return raw;
    }

    static Process qemuNbd(Path image, Path socket) throws IOException {
        Files.deleteIfExists(socket);
        Process p = Tool.start(List.of("qemu-nbd", "-r", "-f", "raw", "-t", "-e", "8", "-k", socket.toString(),
                image.toString()));
        await().atMost(LONG).until(() -> Files.exists(socket));
        return p;
    }

    static void qemuIo(String uri, String... commands) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String c : commands) {
            command.add("-c");
            command.add(c);
        }
        command.add(uri);
        Tool result = Tool.run(command).ok();
        if (result.output().contains("failed") || result.output().contains("error")) {
            throw new AssertionError("qemu-io " + List.of(commands) + ": " + result.output());
        }
    }

    private static Tool fio(String uri) {
        try {
            return NbdDriver.fio("guest", uri, "--rw=randwrite", "--bs=4k", "--iodepth=8", "--offset=" + FIO_FROM,
                    "--size=" + FIO_SIZE, "--io_size=4M", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
                    "--randseed=17");
        } catch (IOException | InterruptedException e) {
            throw new CompletionException(e);
        }
    }

    private static void patch(Path raw, long offset, int length, int pattern) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(raw.toFile(), "rw")) {
            byte[] bytes = new byte[length];
            java.util.Arrays.fill(bytes, (byte) pattern);
            f.seek(offset);
            f.write(bytes);
        }
    }

    /** fio's window {@code [offset, offset + size)} as the disk has it (fio verified it), into the expected image. */
    static void copyWindow(Path from, Path to, long offset, long size) throws IOException {
        try (RandomAccessFile src = new RandomAccessFile(from.toFile(), "r");
                RandomAccessFile dst = new RandomAccessFile(to.toFile(), "rw")) {
            byte[] window = new byte[(int) size];
            src.seek(offset);
            src.readFully(window);
            dst.seek(offset);
            dst.write(window);
        }
    }
}
