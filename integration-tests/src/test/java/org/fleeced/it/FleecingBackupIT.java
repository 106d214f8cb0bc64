package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.fleeced.it.NbdDriver.Extent;
import org.fleeced.it.NbdDriver.NbdOutcome;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #7's backup cycle, end to end through the packaged daemon:
 *
 * <pre>
 *   qemu-io (workload) --NBD rw--> [ disk vm1 ] --CBW--> temp image
 *                                       |
 *        POST /v1/jobs {checkpoint: c1}  +--> fleece export --NBD ro--> nbdcopy = full backup
 *        POST /v1/jobs {checkpoint: c2,  +--> fleece export --nbdinfo --map=qemu:dirty-bitmap:c1
 *                       incrementalFrom: c1}                  --libnbd pread of dirty extents
 *                                                               applied on the full backup
 * </pre>
 *
 * Every backup is compared, with {@code qemu-img compare}, against a copy of the disk taken at
 * the instant its job started; the workload writes while the backup is read.
 */
class FleecingBackupIT {
    private static final long M = 1 << 20;
    private static final long K = 1 << 10;
    private static final long DISK = 64 * M;

    @TempDir
    Path dir;

    @BeforeAll
    static void clients() throws Exception {
        Tool.require("qemu-img", "qemu-io", "nbdinfo", "nbdcopy");
        NbdDriver.requireLibnbd();
    }

    @Test
    void fullBackupDuringWritesThenIncrementalFromItsCheckpoint() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            // 1. attach a qcow2 and write data into its export
            daemon.attachNewQcow2("vm1", DISK);
            String active = daemon.nbdUri("vm1");
            NbdDriver.write(active, "-P 0x11 0 24M", "-P 0x12 40M 8M");
            Path atC1 = dir.resolve("at-c1.raw");
            NbdDriver.copy(active, atC1);

            // 2. a full job that creates checkpoint c1
            JsonNode job1 = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1"));
            assertEquals("running", job1.get("state").asText(), job1.toString());
            assertEquals("full", job1.at("/disks/0/mode").asText(), job1.toString());
            String fleece1 = daemon.fleeceUri(job1, "vm1");
            assertTrue(NbdDriver.exports(daemon.nbdServer()).contains(job1.at("/disks/0/export").asText()));

            // 3. the workload overwrites the data while nbdcopy reads the fleece export
            Path full = dir.resolve("full.raw");
            CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> unchecked(() -> NbdDriver.copy(fleece1, full)));
            List<String> overwrites = new ArrayList<>();
            for (long off = 0; off < 24 * M; off += 256 * K) {
                overwrites.add("-P 0xa1 " + off + " 256k");
            }
            overwrites.add("-P 0xa2 44M 2M");
            NbdDriver.write(active, overwrites.toArray(String[]::new));
            reader.join();
            Tool same = NbdDriver.compare(atC1, full);
            assertEquals(0, same.exit(), "the full backup differs from the disk at c1: " + same.output());
            JsonNode running1 = daemon.rest().job(job1.get("id").asText());
            assertTrue(running1.at("/disks/0/stats/clustersCopied").asLong() > 0,
                    "the overwrites must have copied clusters before writing: " + running1);
            JsonNode finished1 = daemon.rest().finish(job1.get("id").asText(), "success");
            assertEquals("finished", finished1.get("state").asText(), finished1.toString());
            assertFalse(NbdDriver.exports(daemon.nbdServer()).contains(job1.at("/disks/0/export").asText()),
                    "a finished job's export is gone");

            // 4. write more; the plan says what an incremental from c1 reads; start it, creating c2
            NbdDriver.write(active, "-P 0xb1 30M 1M", "-P 0xb2 " + (52 * M + 4 * K) + " 8k", "-P 0xb3 60M 64k");
            List<Extent> changedSinceC1 = List.of(new Extent(0, 24 * M), new Extent(30 * M, M),
                    new Extent(44 * M, 2 * M), new Extent(52 * M, 64 * K), new Extent(60 * M, 64 * K));
            JsonNode plan = daemon.rest().plan("vm1", "c1");
            assertEquals("incremental", plan.get("mode").asText(), plan.toString());
            assertEquals("c1", plan.get("base").asText(), plan.toString());
            assertEquals(bytes(changedSinceC1), plan.get("readBytes").asLong(), plan.toString());
            assertEquals(DISK, plan.get("sizeBytes").asLong(), plan.toString());
            Path atC2 = dir.resolve("at-c2.raw");
            NbdDriver.copy(active, atC2);
            JsonNode job2 = daemon.rest().startJob(RestClient.jobRequest("c2", "vm1")
                    .put("incrementalFrom", "c1"));
            assertEquals("incremental", job2.at("/disks/0/mode").asText(), job2.toString());
            assertEquals("c1", job2.at("/disks/0/base").asText(), job2.toString());
            assertEquals("qemu:dirty-bitmap:c1", job2.at("/disks/0/metaContext").asText(), job2.toString());
            String fleece2 = daemon.fleeceUri(job2, "vm1");
            NbdDriver.write(active, "-P 0xc1 0 2M", "-P 0xc2 30M 2M", "-P 0xc3 50M 1M");

            // 5. read only the dirty extents and apply them to the full backup: the disk at c2
            List<Extent> dirty = NbdDriver.dirtyExtents(fleece2, "qemu:dirty-bitmap:c1");
            assertEquals(changedSinceC1, dirty, "the dirty extents since c1");
            NbdDriver.Increment increment = NbdDriver.readIncrement(fleece2, "qemu:dirty-bitmap:c1",
                    dir.resolve("inc-c2.raw"));
            assertEquals(dirty, increment.extents(), "libnbd reads the extents nbdinfo maps");
            Path restored = Files.copy(full, dir.resolve("restored-c2.raw"));
            increment.applyTo(restored);
            Tool c2 = NbdDriver.compare(atC2, restored);
            assertEquals(0, c2.exit(), "full + incremental differs from the disk at c2: " + c2.output());
            NbdOutcome outside = NbdDriver.libnbd(fleece2, "read:" + 24 * M + ":4096");
            assertEquals("EPERM", outside.errno(), "a read outside the changes: " + outside);
            assertEquals("incremental", daemon.rest().finish(job2.get("id").asText(), "success").at("/disks/0/mode")
                    .asText());
        }
    }

    @Test
    void discardedRangesReadBackAsEacces() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 16M");
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1"));
            String id = job.get("id").asText();
            String fleece = daemon.fleeceUri(job, "vm1");

            // TRIM through libnbd on the fleece export
            List<NbdOutcome> trimmed = NbdDriver.libnbd(fleece, null, "flags", "trim:0:" + M,
                    "read:" + 64 * K + ":4096", "read:" + 2 * M + ":4096", "write:" + 2 * M + ":4096:0x5a");
            JsonNode flags = trimmed.get(0).raw();
            assertFalse(flags.get("readOnly").asBoolean(), "a discard-allowing fleece export is not read-only");
            assertTrue(flags.get("canTrim").asBoolean(), "a discard-allowing fleece export takes TRIM");
            assertNull(trimmed.get(1).errno(), "TRIM: " + trimmed.get(1));
            assertEacces(trimmed.get(2));
            assertNull(trimmed.get(3).errno(), "a range that was not discarded still reads: " + trimmed.get(3));
            assertEquals("EPERM", trimmed.get(4).errno(), "a write to the fleece export: " + trimmed.get(4));
            JsonNode afterTrim = daemon.rest().job(id);
            assertEquals(M, afterTrim.at("/disks/0/stats/discardedBytes").asLong(), afterTrim.toString());
            assertEquals(DISK - M, afterTrim.at("/disks/0/stats/readableBytes").asLong(), afterTrim.toString());

            // the REST discardRanges operation, for readers that cannot TRIM
            JsonNode afterRest = daemon.rest().post("v1/jobs/" + id + "/discard", Map.of("disk", "vm1",
                    "ranges", List.of(Map.of("offset", 4 * M, "length", M)))).expect(200).json();
            assertEquals(2 * M, afterRest.at("/disks/0/stats/discardedBytes").asLong(), afterRest.toString());
            List<NbdOutcome> discarded = NbdDriver.libnbd(fleece, null, "flags", "read:" + 4 * M + ":4096",
                    "read:" + (5 * M - 4096) + ":8192", "read:" + 5 * M + ":4096");
            assertEacces(discarded.get(1));
            assertEacces(discarded.get(2));
            assertNull(discarded.get(3).errno(), "the range after the discarded one still reads: " + discarded.get(3));
            daemon.rest().finish(id, "success");
        }
    }

    /**
     * A failed job never happened: its checkpoint is gone, the one before records again, a retry
     * with the same name succeeds, and it is an incremental with exactly the changes since c1.
     */
    @Test
    void failedIncrementalNeverHappenedAndItsRetryIsIncremental() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            RestClient rest = daemon.rest();
            daemon.attachNewQcow2("vm1", DISK);
            String active = daemon.nbdUri("vm1");
            NbdDriver.write(active, "-P 0x11 0 8M");
            JsonNode full = rest.startJob(RestClient.jobRequest("c1", "vm1"));
            Path backup = dir.resolve("full.raw");
            NbdDriver.copy(daemon.fleeceUri(full, "vm1"), backup);
            rest.finish(full.get("id").asText(), "success");

            NbdDriver.write(active, "-P 0xa1 8M 1M");
            JsonNode failing = rest.startJob(RestClient.jobRequest("c2", "vm1").put("incrementalFrom", "c1"));
            NbdDriver.write(active, "-P 0xc1 30M 64k");
            JsonNode failed = rest.finish(failing.get("id").asText(), "failure");
            assertEquals("failed", failed.get("state").asText(), failed.toString());
            JsonNode bitmaps = rest.bitmaps("vm1");
            assertEquals(1, bitmaps.size(), "the failed job's checkpoint c2 is gone: " + bitmaps);
            assertEquals("c1", bitmaps.at("/0/name").asText(), bitmaps.toString());
            assertEquals("recording", bitmaps.at("/0/state").asText(), "c1 records again: " + bitmaps);
            assertTrue(bitmaps.at("/0/enabled").asBoolean(), bitmaps.toString());

            NbdDriver.write(active, "-P 0xb1 20M 64k");
            List<Extent> union = List.of(new Extent(8 * M, M), new Extent(20 * M, 64 * K), new Extent(30 * M, 64 * K));
            JsonNode plan = rest.plan("vm1", "c1");
            assertEquals(bytes(union), plan.get("readBytes").asLong(), "c1 holds every change since it: " + plan);
            Path atRetry = dir.resolve("at-retry.raw");
            NbdDriver.copy(active, atRetry);
            JsonNode retry = rest.startJob(RestClient.jobRequest("c2", "vm1").put("incrementalFrom", "c1"));
            assertEquals("incremental", retry.at("/disks/0/mode").asText(), retry.toString());
            String fleece = daemon.fleeceUri(retry, "vm1");
            List<Extent> dirty = NbdDriver.dirtyExtents(fleece, "qemu:dirty-bitmap:c1");
            assertEquals(union, dirty, "the retry reads exactly the changes since c1");
            NbdDriver.Increment increment = NbdDriver.readIncrement(fleece, "qemu:dirty-bitmap:c1",
                    dir.resolve("inc-retry.raw"));
            assertEquals(dirty, increment.extents(), "libnbd reads the extents nbdinfo maps");
            increment.applyTo(backup);
            Tool same = NbdDriver.compare(atRetry, backup);
            assertEquals(0, same.exit(), "full + retried incremental differs from the disk: " + same.output());
            rest.finish(retry.get("id").asText(), "success");
        }
    }

    @Test
    void incrementalWithoutAUsableBaseFallsBackToFullWhenAllowed() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            String active = daemon.nbdUri("vm1");
            NbdDriver.write(active, "-P 0x11 0 4M");
            Path atC1 = dir.resolve("at-c1.raw");
            NbdDriver.copy(active, atC1);
            JsonNode newDisk = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1")
                    .put("incrementalFrom", "c0").put("allowFullFallback", true));
            assertEquals("full", newDisk.at("/disks/0/mode").asText(), newDisk.toString());
            assertEquals("NEW_DISK", newDisk.at("/disks/0/fallbackReason").asText(), newDisk.toString());
            Path full = dir.resolve("full.raw");
            NbdDriver.copy(daemon.fleeceUri(newDisk, "vm1"), full);
            assertEquals(0, NbdDriver.compare(atC1, full).exit(), "the fallback backup is a full one");
            daemon.rest().finish(newDisk.get("id").asText(), "success");

            JsonNode unknownBase = daemon.rest().startJob(RestClient.jobRequest("c2", "vm1")
                    .put("incrementalFrom", "c0").put("allowFullFallback", true));
            assertEquals("full", unknownBase.at("/disks/0/mode").asText(), unknownBase.toString());
            assertEquals("BASE_UNKNOWN", unknownBase.at("/disks/0/fallbackReason").asText(), unknownBase.toString());
            daemon.rest().finish(unknownBase.get("id").asText(), "success");
        }
    }

    private static void assertEacces(NbdOutcome outcome) {
        assertEquals("EPERM", outcome.errno(), "EACCES travels as NBD_EPERM: " + outcome);
        assertNotNull(outcome.message(), "the server sends a structured error message: " + outcome);
        assertTrue(outcome.message().startsWith("EACCES"), "the message begins with EACCES: " + outcome);
    }

    private static long bytes(List<Extent> extents) {
        return extents.stream().mapToLong(Extent::length).sum();
    }

    /** An I/O step run on another thread. */
    interface Step {
        void run() throws IOException, InterruptedException;
    }

    private static void unchecked(Step step) {
        try {
            step.run();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
