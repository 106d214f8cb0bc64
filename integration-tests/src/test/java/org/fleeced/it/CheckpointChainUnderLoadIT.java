package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #8, scenario 1: a chain of five checkpoints taken while fio's nbd engine writes to the
 * disk with crc32c verification. Restoring the full backup plus the incrementals up to each
 * checkpoint gives the disk as it was at that checkpoint, byte for byte.
 *
 * <pre>
 *   fio burst 0 ─┐ (fills the disk)
 *                ├─ writer paused: nbdcopy active export → expected-1, POST /v1/jobs c1 (full)
 *   fio burst 1 ─┤   while nbdcopy reads the c1 fleece export → full.raw; finish success
 *                ├─ writer paused: expected-2, POST /v1/jobs c2 incrementalFrom c1
 *   fio burst 2 ─┤   while nbd_client.py copies the qemu:dirty-bitmap:c1 extents → inc-2
 *   ...          └─ ... up to c5
 *   restore: full.raw == expected-1; + inc-2 == expected-2; ... + inc-5 == expected-5
 * </pre>
 *
 * The writer is "paused" by running it in bursts: one burst per checkpoint, the expected copy and
 * the job start between bursts, and each burst overlapping the backup read of the job just started
 * (so every backup is read while copy-before-write runs). Each burst writes its own 8 MiB window
 * of the 32 MiB disk, so every incremental is smaller than the disk.
 */
class CheckpointChainUnderLoadIT {
    private static final long DISK = 32 << 20;
    private static final int CHECKPOINTS = 5;

    @TempDir
    Path dir;

    @Test
    void restoringTheChainUpToEachCheckpointGivesTheDiskAtThatCheckpoint() throws Exception {
        Tool.require("fio", "nbdcopy");
        NbdDriver.requireLibnbd();
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", DISK);
            String active = daemon.nbdUri("vm");
            fio(active, 0).ok();

            Path full = dir.resolve("full.raw");
            List<Path> expected = new ArrayList<>();
            List<NbdDriver.Increment> increments = new ArrayList<>();
            for (int i = 1; i <= CHECKPOINTS; i++) {
                expected.add(NbdDriver.copy(active, dir.resolve("expected-" + i + ".raw")));
                ObjectNode request = RestClient.jobRequest("c" + i, "vm");
                if (i > 1) {
                    request.put("incrementalFrom", "c" + (i - 1));
                }
                JsonNode job = rest.startJob(request);
                JsonNode disk = job.path("disks").get(0);
                int burst = i;
                CompletableFuture<Tool> writer = CompletableFuture.supplyAsync(() -> fio(active, burst));
                if (i == 1) {
                    assertEquals("full", disk.path("mode").asText(), job.toString());
                    NbdDriver.copy(disk.path("uri").asText(), full);
                } else {
                    assertEquals("incremental", disk.path("mode").asText(), job.toString());
                    assertEquals("qemu:dirty-bitmap:c" + (i - 1), disk.path("metaContext").asText(), job.toString());
                    long readable = disk.path("stats").path("readableBytes").asLong();
                    assertTrue(readable > 0 && readable < DISK, "an incremental reads part of the disk: " + job);
                    NbdDriver.Increment increment = NbdDriver.readIncrement(disk.path("uri").asText(),
                            disk.path("metaContext").asText(), dir.resolve("inc-" + i + ".raw"));
                    assertEquals(readable, increment.dirtyBytes(), "dirty extents vs readableBytes");
                    increments.add(increment);
                }
                writer.join().ok();
                JsonNode during = rest.job(job.path("id").asText());
                assertTrue(during.path("disks").get(0).path("stats").path("clustersCopied").asLong() > 0,
                        "the writer ran during the job, so copy-before-write copied clusters: " + during);
                assertEquals("finished", rest.finish(job.path("id").asText(), "success").path("state").asText());
            }

            Path restore = Files.copy(full, dir.resolve("restore.raw"));
            NbdDriver.assertSameBytes(expected.getFirst(), restore, "full backup c1");
            for (int i = 2; i <= CHECKPOINTS; i++) {
                increments.get(i - 2).applyTo(restore);
                NbdDriver.assertSameBytes(expected.get(i - 1), restore, "full c1 + incrementals up to c" + i);
            }
            assertTrue(daemon.alive(), daemon.log());
        }
    }

    /** One burst: 2 MiB of 4 KiB random writes in window {@code burst} (8 MiB, sliding by 4 MiB), verified. */
    private static Tool fio(String uri, int burst) {
        long window = (burst * (4L << 20)) % (DISK - (8 << 20));
        try {
            return NbdDriver.fio("burst-" + burst, uri, "--rw=randwrite", "--bs=4k", "--iodepth=8",
                    "--offset=" + window, "--size=8M", "--io_size=" + (burst == 0 ? "32M" : "2M"), "--verify=crc32c",
                    "--do_verify=1", "--verify_fatal=1", "--randseed=" + (1000 + burst), "--numjobs=1");
        } catch (Exception e) {
            throw new CompletionException(e);
        }
    }
}
