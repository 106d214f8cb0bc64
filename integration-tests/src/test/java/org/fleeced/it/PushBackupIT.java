package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue #16: push-mode backup chains. A full push then two incremental pushes of a disk, each
 * while fio's nbd engine writes to the disk with crc32c verification; the chain restored with
 * {@code qemu-img convert} up to each push equals the disk as it was when that push started, and
 * {@code qemu-img check} passes on every file.
 *
 * <pre>
 *   fio fill ─┐
 *             ├─ writer paused: nbdcopy active export → expected-0; POST /v1/jobs c0 targets vm.0.qcow2
 *   fio burst ┤   while the daemon pushes the snapshot; the job ends by itself: finished
 *             ├─ expected-1; c1 incrementalFrom c0 → vm.1.qcow2 (backing vm.0.qcow2)
 *   fio burst ┤   ...
 *             └─ expected-2; c2 incrementalFrom c1 → vm.2.qcow2 (backing vm.1.qcow2)
 *   check: qemu-img check vm.N.qcow2; qemu-img convert vm.N.qcow2 → raw == expected-N
 * </pre>
 */
class PushBackupIT {
    private static final long DISK = 64 << 20;
    private static final int PUSHES = 3;

    /** The pattern table: the disk's format. */
    enum Row {
        /** A qcow2 disk: checkpoints as persistent bitmaps. */
        QCOW2("qcow2"),
        /** A raw disk: checkpoints in memory; the backups are qcow2 all the same. */
        RAW("raw");

        final String format;

        Row(String format) {
            this.format = format;
        }
    }

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Row.class)
    void aPushChainRestoresToTheDiskAtEachPush(Row row) throws Exception {
        Tool.require("fio", "nbdcopy", "qemu-img");
        Path backups = dir.resolve("backups");
        try (DaemonUnderTest daemon = DaemonUnderTest.in(dir.resolve("daemon"))
                .config("backupDirs", "[" + backups + "]").start()) {
            RestClient rest = daemon.rest();
            rest.post("v1/disks", Map.of("name", "vm", "path", daemon.images().resolve("vm." + row.format).toString(),
                    "format", row.format, "create", Map.of("sizeBytes", DISK))).expect(201);
            String active = daemon.nbdUri("vm");
            fio(active, 0).ok();

            List<Path> expected = new ArrayList<>();
            List<Path> files = new ArrayList<>();
            long written = 0;
            for (int i = 0; i < PUSHES; i++) {
                expected.add(NbdDriver.copy(active, dir.resolve("expected-" + i + ".raw")));
                Path file = backups.resolve("vm." + i + ".qcow2");
                files.add(file);
                ObjectNode request = RestClient.jobRequest("c" + i, "vm").put("copiesInFlight", 2);
                request.putObject("targets").putObject("vm").put("path", file.toString()).put("format", "qcow2");
                if (i > 0) {
                    request.put("incrementalFrom", "c" + (i - 1));
                }
                JsonNode job = rest.startJob(request);
                int burst = i + 1;
                CompletableFuture<Tool> writer = CompletableFuture.supplyAsync(() -> fio(active, burst));
                assertEquals(i == 0 ? "full" : "incremental", job.path("disks").get(0).path("mode").asText(), job.toString());
                assertTrue(job.has("progress") && !job.has("leaseExpiresAt"), "a push job has progress, no lease: " + job);
                assertTrue(job.path("disks").get(0).path("uri").isMissingNode(), "a push job exports nothing: " + job);
                JsonNode ended = awaitEnd(rest, job.path("id").asText());
                writer.join().ok();
                assertEquals("finished", ended.path("state").asText(), ended.toString());
                JsonNode progress = ended.path("progress");
                assertEquals(progress.path("totalBytes").asLong(), progress.path("doneBytes").asLong(), ended.toString());
                assertEquals(file.toString(), ended.path("disks").get(0).path("target").path("path").asText());
                written += ended.path("disks").get(0).path("target").path("bytesWritten").asLong();
            }

            for (int i = 0; i < PUSHES; i++) {
                Tool.run("qemu-img", "check", "-f", "qcow2", files.get(i).toString()).ok();
                Path restored = dir.resolve("restored-" + i + ".raw");
                Tool.run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", files.get(i).toString(), restored.toString()).ok();
                NbdDriver.assertSameBytes(expected.get(i), restored, "the chain up to push " + i);
            }
            String info = Tool.run("qemu-img", "info", "--output=json", files.get(2).toString()).ok().output();
            assertTrue(info.contains("\"backing-filename\": \"vm.1.qcow2\"") && info.contains("\"backing-filename-format\": \"qcow2\""),
                    "the backing file is the previous backup, by a relative name, with its format: " + info);
            assertTrue(Files.size(files.get(2)) < DISK / 4, "an incremental holds the changes only: " + Files.size(files.get(2)));
            String metrics = rest.get("metrics").expect(200).body();
            assertTrue(metrics.contains("fleeced_push_bytes_written_total{disk=\"vm\"} " + written + "\n"),
                    "one series per disk (not per target file, which every push adds), the sum of its pushes: " + metrics);
            assertTrue(daemon.alive(), daemon.log());
        }
    }

    /** The job once it has ended by itself. */
    static JsonNode awaitEnd(RestClient rest, String id) {
        JsonNode[] job = new JsonNode[1];
        await("push job " + id + " ends").pollInterval(Duration.ofMillis(100)).forever().until(() -> {
            job[0] = rest.job(id);
            return !job[0].path("state").asText().equals("running");
        });
        return job[0];
    }

    /**
     * A new member of a qcow2 chain in {@code dir} for an NBD target to serve: {@code t0.qcow2}
     * stands alone, each later one has the previous member as its backing file (relative name,
     * backing format set), as a push writes its own files. Appended to {@code chain}.
     */
    static Path nextChainFile(Path dir, List<Path> chain, long size) throws IOException, InterruptedException {
        Path file = dir.resolve("t" + chain.size() + ".qcow2");
        if (chain.isEmpty()) {
            Tool.run("qemu-img", "create", "-f", "qcow2", file.toString(), String.valueOf(size)).ok();
        } else {
            Tool.run("qemu-img", "create", "-f", "qcow2", "-b", chain.getLast().getFileName().toString(),
                    "-F", "qcow2", file.toString()).ok();
        }
        chain.add(file);
        return file;
    }

    /**
     * One burst of 4 KiB random writes, verified: burst 0 writes 32 MiB over the whole disk, each
     * later one 2 MiB in its own 8 MiB window (so an incremental holds a part of the disk).
     */
    static Tool fio(String uri, int burst) {
        try {
            return NbdDriver.fio("burst-" + burst, uri, "--rw=randwrite", "--bs=4k", "--iodepth=8",
                    "--offset=" + (burst == 0 ? 0 : burst * (16 << 20)), "--size=" + (burst == 0 ? DISK : 8 << 20),
                    "--io_size=" + (burst == 0 ? "32M" : "2M"), "--verify=crc32c",
                    "--do_verify=1", "--verify_fatal=1", "--randseed=" + (2000 + burst), "--numjobs=1");
        } catch (Exception e) {
            throw new CompletionException(e);
        }
    }
}
