package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #8, scenario 5: many connections at once. 32 fio jobs (one NBD connection each) write and
 * verify their own 1 MiB region of the active export, while {@code nbdcopy -C 8} copies the fleece
 * export over 8 connections; the copy equals the disk at job start. (nbdcopy uses no more
 * connections than threads, and its threads default to the number of cores, hence {@code -T 8}.)
 *
 * <pre>
 *   fio job 0..31 ──32 connections──▶ export "vm" (read-write) ──CBW──▶ temp
 *   nbdcopy -C 8  ──8 connections───▶ fleece export (read-only, multi-conn)
 * </pre>
 */
class ManyConnectionsScenarioIT {
    private static final long DISK = 32 << 20;
    private static final int WRITERS = 32;
    private static final int READERS = 8;

    @TempDir
    Path dir;

    @Test
    void thirtyTwoWritersAndAnEightConnectionCopyAtOnce() throws Exception {
        Tool.require("fio");
        Tool.require("nbdcopy");
        try (ScenarioDaemon daemon = ScenarioDaemon.start(dir.resolve("daemon"))) {
            ScenarioRest rest = daemon.rest();
            rest.create("vm", daemon.image("vm.qcow2"), DISK);
            String active = daemon.uri("vm");
            Tool.run("fio", "--name=fill", "--ioengine=nbd", "--uri=" + active, "--rw=write", "--bs=1M",
                    "--size=32M", "--randseed=5").ok();
            Path expected = ImageBytes.copy(active, dir.resolve("expected.raw"));
            JsonNode job = rest.startJob(ScenarioRest.job("c1", "vm"));
            JsonNode disk = job.path("disks").get(0);
            int activeOpenedBefore = opened(daemon, "vm");

            CompletableFuture<Tool> writers = CompletableFuture.supplyAsync(() -> run("fio", "--name=writers",
                    "--ioengine=nbd", "--uri=" + active, "--numjobs=" + WRITERS, "--size=1M", "--offset_increment=1M",
                    "--rw=randwrite", "--bs=4k", "--iodepth=2", "--time_based", "--runtime=4", "--verify=crc32c", "--verify_state_save=0",
                    "--verify_backlog=16", "--verify_fatal=1", "--group_reporting", "--randseed=6"));
            await().atMost(Duration.ofSeconds(30)).until(() -> ReaderReconnectScenarioIT.openConnections(rest) >= WRITERS
                    || writers.isDone());
            assertTrue(ReaderReconnectScenarioIT.openConnections(rest) >= WRITERS,
                    "all writers connected at once: " + writers.getNow(null));
            Tool copy = Tool.run("nbdcopy", "-C", String.valueOf(READERS), "-T", String.valueOf(READERS),
                    disk.path("uri").asText(),
                    dir.resolve("copy.raw").toString());
            boolean overlapped = !writers.isDone();
            writers.join().ok();

            copy.ok();
            assertTrue(overlapped, "nbdcopy ran while the 32 writers wrote");
            ImageBytes.assertSame(expected, dir.resolve("copy.raw"), "the 8-connection copy of the snapshot");
            int writerConnections = opened(daemon, "vm") - activeOpenedBefore;
            assertTrue(writerConnections >= WRITERS, "fio's nbd engine probes the size on a connection of its own, "
                    + "then each job opens one: " + writerConnections);
            assertEquals(READERS, opened(daemon, disk.path("export").asText()), "nbdcopy's connections");
            JsonNode after = rest.getJob(job.path("id").asText());
            assertTrue(after.path("disks").get(0).path("stats").path("clustersCopied").asLong() > 0, after.toString());
            assertEquals("finished", rest.finish(job.path("id").asText(), "success").path("state").asText());
            await().atMost(Duration.ofSeconds(20)).until(() -> ReaderReconnectScenarioIT.openConnections(rest) == 0);
        }
    }

    /** How many connections the daemon's log says opened {@code export}. */
    private static int opened(ScenarioDaemon daemon, String export) throws Exception {
        return daemon.log().split("opened export '" + export + "'", -1).length - 1;
    }

    private static Tool run(String... command) {
        try {
            return Tool.run(command);
        } catch (Exception e) {
            throw new CompletionException(e);
        }
    }
}
