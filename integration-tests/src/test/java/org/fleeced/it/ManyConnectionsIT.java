package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #8, scenario 5: many connections at once. 32 fio jobs (one NBD connection each) write and
 * verify their own 1 MiB region of the active export, while {@code nbdcopy -C 8} copies the fleece
 * export over 8 connections; the copy equals the disk at job start. (nbdcopy uses no more
 * connections than threads, and its threads default to the number of cores, hence {@code -T 8}.)
 * The writers run until the copy is done and are then stopped, so the two overlap however slow the
 * machine is.
 *
 * <pre>
 *   fio job 0..31 ──32 connections──▶ export "vm" (read-write) ──CBW──▶ temp
 *   nbdcopy -C 8  ──8 connections───▶ fleece export (read-only, multi-conn)
 * </pre>
 */
class ManyConnectionsIT {
    private static final long DISK = 32 << 20;
    private static final int WRITERS = 32;
    private static final int READERS = 8;

    @TempDir
    Path dir;

    @Test
    void thirtyTwoWritersAndAnEightConnectionCopyAtOnce() throws Exception {
        Tool.require("fio", "nbdcopy");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", DISK);
            String active = daemon.nbdUri("vm");
            NbdDriver.fio("fill", active, "--rw=write", "--bs=1M", "--size=32M", "--randseed=5").ok();
            Path expected = NbdDriver.copy(active, dir.resolve("expected.raw"));
            JsonNode job = rest.startJob(RestClient.jobRequest("c1", "vm"));
            JsonNode disk = job.path("disks").get(0);
            int activeOpenedBefore = opened(daemon, "vm");

            Path report = dir.resolve("writers.fio");
            Process writers = NbdDriver.startFio("writers", active, report, "--numjobs=" + WRITERS, "--size=1M",
                    "--offset_increment=1M", "--rw=randwrite", "--bs=4k", "--iodepth=2", "--time_based",
                    "--runtime=600", "--verify=crc32c", "--verify_backlog=16", "--verify_fatal=1", "--group_reporting",
                    "--randseed=6");
            try {
                await().atMost(Duration.ofSeconds(60)).until(() -> rest.openNbdConnections() >= WRITERS
                        || !writers.isAlive());
                assertTrue(rest.openNbdConnections() >= WRITERS, "all writers connected at once");
                Tool copy = Tool.run("nbdcopy", "-C", String.valueOf(READERS), "-T", String.valueOf(READERS),
                        disk.path("uri").asText(), dir.resolve("copy.raw").toString());
                boolean overlapped = writers.isAlive();
                writers.destroy();
                int exit = writers.waitFor();
                String fio = Files.readString(report);
                assertTrue((exit == 0 || exit == 128) && fio.contains("err= 0"),
                        "the writers verified every write until stopped (128: SIGTERM): exit " + exit + "\n" + fio);
                copy.ok();
                assertTrue(overlapped, "nbdcopy ran while the 32 writers wrote:\n" + fio);
            } finally {
                writers.destroyForcibly();
            }
            NbdDriver.assertSameBytes(expected, dir.resolve("copy.raw"), "the 8-connection copy of the snapshot");
            int writerConnections = opened(daemon, "vm") - activeOpenedBefore;
            assertTrue(writerConnections >= WRITERS, "fio's nbd engine probes the size on a connection of its own, "
                    + "then each job opens one: " + writerConnections);
            assertEquals(READERS, opened(daemon, disk.path("export").asText()), "nbdcopy's connections");
            JsonNode after = rest.job(job.path("id").asText());
            assertTrue(after.path("disks").get(0).path("stats").path("clustersCopied").asLong() > 0, after.toString());
            assertEquals("finished", rest.finish(job.path("id").asText(), "success").path("state").asText());
            await().atMost(Duration.ofSeconds(20)).until(() -> rest.openNbdConnections() == 0);
        }
    }

    /** How many connections the daemon's log says opened {@code export}. */
    private static int opened(DaemonUnderTest daemon, String export) {
        return daemon.log().split("opened export '" + export + "'", -1).length - 1;
    }
}
