package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
    /** How long a state change may take to show on a loaded machine: a limit for a hang, not a speed. */
    private static final Duration PATIENCE = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @BeforeAll
    static void clients() {
        Tool.require("qemu-img", "qemu-io", "nbdcopy");
    }

    /** The limits come from the configuration's {@code defaults.readLimits}: the job names none. */
    @Test
    void aFixedReadLimitHoldsNbdcopyBackAndIsShownInTheStats() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.in(dir)
                .config("defaults", "{readLimits: {bytesPerSecond: " + 8 * MIB + ", burstBytes: " + MIB + "}}").start()) {
            daemon.attachNewQcow2("vm1", DISK);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 24M");
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1"));
            String id = job.get("id").asText();
            assertEquals(8 * MIB, job.at("/readLimits/bytesPerSecond").asLong(), job.toString());
            assertEquals(8 * MIB, job.at("/disks/0/stats/readLimitBytesPerSecond").asLong());
            assertEquals(0, daemon.rest().disk("vm1").at("/ioLimits/bytesPerSecond").asLong(),
                    "a reader's default is not the guest's limit");

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

    /**
     * Adaptive reading reacting to a real guest: fio reads the fleece export over and over while
     * a second fio writes 4 KiB at random over the guest's export. Every write is real work below
     * the latency filter (most copy a 64 KiB cluster before they land), and the target, 1 µs, is
     * one no write meets: so the guest is "slow" exactly while it writes, and what this checks is
     * the reaction. The reader is held to a rate (the stats and the metric show it) while the
     * guest writes, and runs at full speed again (no rate) once the guest has been idle for the
     * latency window.
     */
    @Test
    void adaptiveReadingHoldsTheReaderBackWhileTheGuestWritesAndLetsItGoWhenTheGuestIsIdle() throws Exception {
        Tool.require("fio");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x55 0 64M");
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1")
                    .set("readLimits", RestClient.JSON.valueToTree(Map.of("guestLatencyTargetMillis", 0.001))));
            String id = job.get("id").asText();
            Process reader = NbdDriver.startFio("reader", daemon.fleeceUri(job, "vm1"), dir.resolve("reader.fio"),
                    "--rw=read", "--bs=1M", "--time_based", "--runtime=3600");
            try {
                await("the reader at full speed while the guest is idle").atMost(PATIENCE).until(() ->
                        stats(daemon, id).path("readBytes").asLong() >= DISK && unlimited(daemon, id));

                Process guest = NbdDriver.startFio("guest", daemon.nbdUri("vm1"), dir.resolve("guest.fio"),
                        "--rw=randwrite", "--bs=4k", "--time_based", "--runtime=3600", "--randseed=15");
                try {
                    await("the reader held back while the guest writes").atMost(PATIENCE).until(() ->
                            stats(daemon, id).path("readLimitBytesPerSecond").asLong() > 0
                                    && stats(daemon, id).path("guestWriteP99Micros").asLong(-1) >= 0);
                    assertTrue(daemon.rest().metric("fleeced_job_read_limit_bytes_per_second{job=\"" + id + "\"}") > 0,
                            "the metric shows the rate in force");
                    assertTrue(daemon.rest().metric("fleeced_job_guest_write_p99_seconds{job=\"" + id + "\"}") > 0);
                    long before = stats(daemon, id).path("readBytes").asLong();
                    await("the reader still reads, held back").atMost(PATIENCE)
                            .until(() -> stats(daemon, id).path("readBytes").asLong() > before);
                    assertTrue(reader.isAlive() && guest.isAlive(), "both ran throughout");
                } finally {
                    guest.destroy();
                    guest.waitFor();
                }
                await("full speed again once the guest is idle").atMost(PATIENCE).until(() -> unlimited(daemon, id));
                assertEquals(0.0, daemon.rest().metric("fleeced_job_read_limit_bytes_per_second{job=\"" + id + "\"}"));
                assertTrue(reader.isAlive(), "the reader read throughout");
            } finally {
                reader.destroy();
                reader.waitFor();
            }
            daemon.rest().finish(id, "success");
        }
    }

    private static JsonNode stats(DaemonUnderTest daemon, String job) throws Exception {
        return daemon.rest().job(job).at("/disks/0/stats");
    }

    /** No rate in force, and no guest write in the latency window. */
    private static boolean unlimited(DaemonUnderTest daemon, String job) throws Exception {
        JsonNode s = stats(daemon, job);
        return s.path("readLimitBytesPerSecond").asLong(-1) == 0 && s.path("guestWriteP99Micros").isMissingNode();
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
