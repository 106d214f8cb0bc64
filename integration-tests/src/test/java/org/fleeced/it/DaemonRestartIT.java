package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.it.NbdDriver.Extent;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon stops on SIGTERM and starts again without losing what backups depend on: the
 * attached disks, their data, and their checkpoints (persistent dirty bitmaps in the qcow2
 * image, DESIGN.md sections 4 and 6), including the changes made while a job the shutdown
 * failed ran (that job never happened: its checkpoint is gone, its changes are in the one before).
 *
 * <pre>
 *   run 1: attach vm1, write, full job c1 (success), [write A, incremental job c2 running, write B]
 *          SIGTERM -> exit 0, job failed with reason shutdown, images closed cleanly
 *   run 2: vm1 attached again, bitmaps listed, an incremental reads exactly what changed
 * </pre>
 */
class DaemonRestartIT {
    private static final long M = 1 << 20;
    private static final long K = 1 << 10;
    private static final long DISK = 64 * M;

    @TempDir
    Path dir;

    @BeforeAll
    static void clients() {
        Tool.require("qemu-img", "qemu-io", "nbdinfo", "nbdcopy");
    }

    @Test
    void disksAndCheckpointsSurviveARestart() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            RestClient rest = daemon.rest();
            daemon.attachNewQcow2("vm1", DISK);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 8M");
            JsonNode full = rest.startJob(RestClient.jobRequest("c1", "vm1"));
            NbdDriver.copy(daemon.fleeceUri(full, "vm1"), dir.resolve("full.raw"));
            rest.finish(full.get("id").asText(), "success");
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x22 2M 1M");
            assertEquals(0, daemon.stop(), daemon.log());

            daemon.restart();
            JsonNode disk = rest.disk("vm1");
            assertEquals(dir.resolve("images/vm1.qcow2").toRealPath().toString(), disk.get("path").asText());
            Path now = dir.resolve("now.raw");
            NbdDriver.copy(daemon.nbdUri("vm1"), now);
            Path expected = Files.copy(dir.resolve("full.raw"), dir.resolve("expected.raw"));
            NbdDriver.write(expected.toString(), "-P 0x22 2M 1M");
            assertEquals(0, NbdDriver.compare(expected, now).exit(), "the disk's data survives the restart");

            JsonNode bitmaps = rest.bitmaps("vm1");
            assertEquals(List.of("c1"), bitmapNames(bitmaps), "checkpoint c1 survives the restart: " + bitmaps);
            assertEquals("recording", bitmaps.at("/0/state").asText(), bitmaps.toString());
            assertTrue(bitmaps.at("/0/persistent").asBoolean(), bitmaps.toString());
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x33 40M 64k");
            JsonNode job = rest.startJob(RestClient.jobRequest("c2", "vm1").put("incrementalFrom", "c1"));
            assertEquals(List.of(new Extent(2 * M, M), new Extent(40 * M, 64 * K)),
                    NbdDriver.dirtyExtents(daemon.fleeceUri(job, "vm1"), "qemu:dirty-bitmap:c1"),
                    "the incremental after a restart reads the changes before and after it");
            rest.finish(job.get("id").asText(), "success");
            assertEquals(0, daemon.stop(), daemon.log());
        }
        JsonNode stored = RestClient.JSON.readTree(Tool.run("qemu-img", "info", "--output=json",
                dir.resolve("images/vm1.qcow2").toString()).ok().output());
        JsonNode inImage = stored.at("/format-specific/data/bitmaps");
        assertEquals(List.of("c1", "c2"), bitmapNames(inImage),
                "after a clean stop the image holds the checkpoints as qcow2 bitmaps: " + stored);
        // only the newest checkpoint records (AUTO); the older one is frozen; neither is left in use
        assertEquals(List.of(), RestClient.JSON.convertValue(inImage.get(0).get("flags"), List.class),
                "c1 frozen, and not in use after a clean close: " + inImage);
        assertEquals(List.of("auto"), RestClient.JSON.convertValue(inImage.get(1).get("flags"), List.class),
                "c2 enabled, and not in use after a clean close: " + inImage);
    }

    @Test
    void sigtermWithARunningJobExitsZeroAndKeepsItsChanges() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            RestClient rest = daemon.rest();
            daemon.attachNewQcow2("vm1", DISK);
            String active = daemon.nbdUri("vm1");
            NbdDriver.write(active, "-P 0x11 0 8M");
            JsonNode full = rest.startJob(RestClient.jobRequest("c1", "vm1"));
            rest.finish(full.get("id").asText(), "success");
            NbdDriver.write(active, "-P 0xa1 8M 1M");
            JsonNode running = rest.startJob(RestClient.jobRequest("c2", "vm1").put("incrementalFrom", "c1"));
            NbdDriver.write(active, "-P 0xb1 20M 64k");

            assertEquals(0, daemon.stop(), "SIGTERM with a running job exits 0:\n" + daemon.log());
            String log = daemon.log();
            assertTrue(log.contains("job " + running.get("id").asText() + ": failed (shutdown)"), log);
            assertTrue(log.contains("stopped cleanly"), log);

            daemon.restart();
            rest.disk("vm1");
            JsonNode bitmaps = rest.bitmaps("vm1");
            assertEquals(List.of("c1"), bitmapNames(bitmaps), "the shut-down job never happened: " + bitmaps);
            JsonNode plan = rest.plan("vm1", "c1");
            assertEquals(M + 64 * K, plan.get("readBytes").asLong(),
                    "c1 holds the changes made before and while the shut-down job ran: " + plan);
            JsonNode job = rest.startJob(RestClient.jobRequest("c2", "vm1").put("incrementalFrom", "c1"));
            assertEquals("incremental", job.at("/disks/0/mode").asText(), job.toString());
            assertEquals(List.of(new Extent(8 * M, M), new Extent(20 * M, 64 * K)),
                    NbdDriver.dirtyExtents(daemon.fleeceUri(job, "vm1"), "qemu:dirty-bitmap:c1"));
            rest.finish(job.get("id").asText(), "success");
        }
    }

    private static List<String> bitmapNames(JsonNode bitmaps) {
        List<String> names = new ArrayList<>();
        for (JsonNode b : bitmaps) {
            names.add(b.get("name").asText());
        }
        return names;
    }
}
