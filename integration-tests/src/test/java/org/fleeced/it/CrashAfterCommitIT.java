package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12 point 3, the crash case: a job the daemon died under never happened, on every disk,
 * even when the crash came after its checkpoint was committed on some disks and before the job
 * ended (its end record not yet written). The daemon finds the job running in its history at the
 * next start, fails it ({@code crash}), removes its checkpoint from the disks that committed it
 * (the changes merged back) and says so in {@code /health}; a retry with the same name is then an
 * incremental from the last good checkpoint, with every change since it.
 *
 * <pre>
 *   full c1 on vm1, vm2 ─▶ success;  incremental c2 on both, writes, finish success
 *   kill -9, and the job's end record cut from the history (what a crash just before writing it leaves)
 *   restart: job c2 failed "crash"; /health removedCheckpoints = c2 on vm1 and vm2; bitmaps: c1 only
 *   retry c2 incrementalFrom c1: incremental, and its dirty bitmap holds the writes made during the first c2
 * </pre>
 */
class CrashAfterCommitIT {
    private static final long DISK = 32L << 20;

    @TempDir
    Path dir;

    @Test
    void aJobCrashedAfterItsCommitsNeverHappenedOnAnyDisk() throws Exception {
        Tool.require("qemu-img", "qemu-io", "nbdinfo");
        NbdDriver.requireLibnbd();
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            RestClient rest = daemon.rest();
            for (String vm : List.of("vm1", "vm2")) {
                daemon.attachNewQcow2(vm, DISK);
                NbdDriver.write(daemon.nbdUri(vm), "-P 0x11 0 4M");
            }
            rest.finish(rest.startJob(RestClient.jobRequest("c1", "vm1", "vm2")).path("id").asText(), "success");
            JsonNode c2 = rest.startJob(RestClient.jobRequest("c2", "vm1", "vm2").put("incrementalFrom", "c1"));
            String job = c2.path("id").asText();
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x22 8M 1M");
            NbdDriver.write(daemon.nbdUri("vm2"), "-P 0x33 12M 64k");
            rest.finish(job, "success");
            daemon.kill();
            cutLastRecord(dir.resolve("state").resolve("jobs.history"), job);

            daemon.restart();
            JsonNode record = rest.job(job);
            assertEquals("failed", record.path("state").asText(), record.toString());
            assertEquals("crash", record.path("failureReason").asText(), record.toString());
            JsonNode health = rest.get("health").expect(200).json();
            List<String> removed = new ArrayList<>();
            for (JsonNode r : health.at("/recovered/removedCheckpoints")) {
                assertEquals(job, r.path("job").asText(), health.toString());
                removed.add(r.path("disk").asText() + "/" + r.path("checkpoint").asText());
            }
            assertEquals(List.of("vm1/c2", "vm2/c2"), removed, health.toString());
            for (String vm : List.of("vm1", "vm2")) {
                List<String> names = new ArrayList<>();
                rest.bitmaps(vm).forEach(b -> names.add(b.path("name").asText()));
                assertEquals(List.of("c1"), names, vm);
            }

            JsonNode retry = rest.startJob(RestClient.jobRequest("c2", "vm1", "vm2").put("incrementalFrom", "c1"));
            for (JsonNode d : retry.path("disks")) {
                assertEquals("incremental", d.path("mode").asText(), retry.toString());
            }
            List<NbdDriver.Extent> dirty1 = NbdDriver.dirtyExtents(daemon.fleeceUri(retry, "vm1"), "qemu:dirty-bitmap:c1");
            List<NbdDriver.Extent> dirty2 = NbdDriver.dirtyExtents(daemon.fleeceUri(retry, "vm2"), "qemu:dirty-bitmap:c1");
            assertTrue(new NbdDriver.Extent(8L << 20, 1 << 20).coveredBy(dirty1), "vm1's write is read again: " + dirty1);
            assertTrue(new NbdDriver.Extent(12L << 20, 64 << 10).coveredBy(dirty2), "vm2's write is read again: " + dirty2);
            assertEquals("finished", rest.finish(retry.path("id").asText(), "success").path("state").asText());
        }
    }

    /** Drops the history's last record, which must be {@code job}'s end: as if the crash came just before it. */
    private static void cutLastRecord(Path history, String job) throws Exception {
        List<String> lines = new ArrayList<>(Files.readAllLines(history, StandardCharsets.UTF_8));
        String last = lines.removeLast();
        assertTrue(last.contains(job) && last.contains("\"end\""), "the last record is the job's end: " + last);
        Files.write(history, lines, StandardCharsets.UTF_8);
    }
}
