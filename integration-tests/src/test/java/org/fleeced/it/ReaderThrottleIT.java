package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15 part 3 through REST and real clients: a job's reader limits, changed while nbdcopy
 * reads; a disk's guest limits, remembered across a restart. A throttle is checked from below only: N bytes at R bytes/s with
 * a burst B and requests of at most Q bytes cannot take less than (N - B - Q) / R. Nothing here
 * bounds how long a read may take.
 */
class ReaderThrottleIT {
    private static final long DISK = 64L << 20;
    private static final long MIB = 1L << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void clients() {
        Tool.require("qemu-img", "qemu-io", "nbdcopy");
    }

    @Test
    void aFixedReadLimitHoldsNbdcopyBackAndIsShownInTheStats() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 24M");
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1")
                    .set("readLimits", RestClient.JSON.valueToTree(Map.of("bytesPerSecond", 8 * MIB, "burstBytes", MIB))));
            String id = job.get("id").asText();
            assertEquals(8 * MIB, job.at("/readLimits/bytesPerSecond").asLong());
            assertEquals(8 * MIB, job.at("/disks/0/stats/readLimitBytesPerSecond").asLong());

            long started = System.nanoTime();
            Tool.run("nbdcopy", "--request-size=1048576", daemon.fleeceUri(job, "vm1"),
                    dir.resolve("backup.raw").toString()).ok();
            double seconds = (System.nanoTime() - started) / 1e9;
            double floor = (24.0 - 1 - 1) / 8;
            assertTrue(seconds >= floor, "24 MiB at 8 MiB/s read in " + seconds + " s, less than " + floor);
            assertEquals(24 * MIB, daemon.rest().job(id).at("/disks/0/stats/readBytes").asLong());
            daemon.rest().finish(id, "success");
        }
    }

    @Test
    void liftingTheLimitWhileTheReaderWaitsLetsItFinish() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x22 0 16M");
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1")
                    .set("readLimits", RestClient.JSON.valueToTree(Map.of("bytesPerSecond", 65536))));
            String id = job.get("id").asText();
            Path backup = dir.resolve("backup.raw");
            // 16 MiB at 64 KiB/s would take four minutes: only the new limits let it finish
            Process copy = Tool.start(List.of("nbdcopy", daemon.fleeceUri(job, "vm1"), backup.toString()));
            JsonNode lifted = daemon.rest().patch("v1/jobs/" + id, Map.of("readLimits", Map.of())).expect(200).json();
            assertEquals(0, lifted.at("/disks/0/stats/readLimitBytesPerSecond").asLong());
            assertEquals(0, copy.waitFor(), "nbdcopy finished once the limit was lifted");
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x33 0 1M");
            Path expected = dir.resolve("expected.raw");
            Tool.run("qemu-io", "-f", "raw", "-c", "write -P 0x22 0 16M", createRaw(expected)).ok();
            NbdDriver.assertSameBytes(expected, backup, "the snapshot read through the lifted limit");
            daemon.rest().finish(id, "success");
        }
    }

    @Test
    void adaptiveReadingIsOnAndLeavesAnIdleGuestsReaderUnlimited() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1")
                    .set("readLimits", RestClient.JSON.valueToTree(Map.of("guestLatencyTargetMillis", 5))));
            String id = job.get("id").asText();
            assertEquals(5.0, job.at("/readLimits/guestLatencyTargetMillis").asDouble());
            assertEquals(0, daemon.rest().job(id).at("/disks/0/stats/readLimitBytesPerSecond").asLong(),
                    "no guest writes: the reader runs at full speed");
            JsonNode fixed = daemon.rest().patch("v1/jobs/" + id,
                    Map.of("readLimits", Map.of("bytesPerSecond", 50 * MIB))).expect(200).json();
            assertEquals(50 * MIB, fixed.at("/disks/0/stats/readLimitBytesPerSecond").asLong());
            assertEquals("INVALID_REQUEST", daemon.rest().patch("v1/jobs/" + id,
                    Map.of("readLimits", Map.of("bytesPerSecond", -1))).expect(400).problem().reason());
            daemon.rest().finish(id, "success");
            assertEquals("JOB_ENDED", daemon.rest().patch("v1/jobs/" + id, Map.of("readLimits", Map.of()))
                    .expect(409).problem().reason());
        }
    }

    @Test
    void aDisksIoLimitsAreRememberedAcrossARestartAndHoldItsGuestBack() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            JsonNode disk = daemon.rest().patch("v1/disks/vm1",
                    Map.of("ioLimits", Map.of("bytesPerSecond", 4 * MIB, "burstBytes", MIB))).expect(200).json();
            assertEquals(4 * MIB, disk.at("/ioLimits/bytesPerSecond").asLong());
            assertEquals(0, daemon.stop());
            daemon.restart();
            JsonNode again = daemon.rest().disk("vm1");
            assertEquals(4 * MIB, again.at("/ioLimits/bytesPerSecond").asLong(), again.toString());
            assertEquals(MIB, again.at("/ioLimits/burstBytes").asLong(), again.toString());
            String[] writes = new String[8];
            for (int i = 0; i < writes.length; i++) {
                writes[i] = "-P 0x44 " + i + "M 1M";
            }
            long started = System.nanoTime();
            NbdDriver.write(daemon.nbdUri("vm1"), writes);
            double seconds = (System.nanoTime() - started) / 1e9;
            double floor = (8.0 - 1 - 1) / 4;
            assertTrue(seconds >= floor, "8 MiB at 4 MiB/s written in " + seconds + " s, less than " + floor);
            JsonNode lifted = daemon.rest().patch("v1/disks/vm1", Map.of("ioLimits", Map.of())).expect(200).json();
            assertEquals(0, lifted.at("/ioLimits/bytesPerSecond").asLong());
            assertEquals(0, daemon.stop());
            daemon.restart();
            assertEquals(0, daemon.rest().disk("vm1").at("/ioLimits/bytesPerSecond").asLong(),
                    "lifted limits stay lifted");
        }
    }

    private static String createRaw(Path file) throws Exception {
        Files.deleteIfExists(file);
        Tool.run("qemu-img", "create", "-q", "-f", "raw", file.toString(), Long.toString(DISK)).ok();
        return file.toString();
    }
}
