package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #16: what a push job tells while it runs, and what a crash in the middle of one leaves.
 *
 * <pre>
 *   progress:  daemon --push (1 copy in flight)--> nbd+unix --> nbdkit --filter=delay (0.5 s a write) --> remote.raw
 *              GET /v1/events: job-progress at most once a second, doneBytes growing, then job-finished
 *   crash:     daemon --push--> backups/vm.c1.qcow2   kill -9 mid-copy, start again:
 *              the job failed (crash), the checkpoint chain as if it never ran, the file deleted
 *              (keepPartial: renamed NAME.partial), one log line each
 * </pre>
 */
class PushJobLifecycleIT {
    @TempDir
    Path dir;

    @Test
    void progressEventsComeAtMostOnceASecondGrowToTheTotalAndEndWithTheJob() throws Exception {
        Tool.require("nbdkit", "qemu-io");
        long disk = 64 << 20;
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", disk);
            NbdDriver.write(daemon.nbdUri("vm"), "-P 0x5a 0 64M");
            Path raw = dir.resolve("remote.raw");
            Tool.run("truncate", "-s", String.valueOf(disk), raw.toString()).ok();
            Path socket = dir.resolve("nbdkit.sock");
            // eight writes of 8 MiB, one at a time, half a second each: the push takes four seconds at least
            Process server = Tool.start(List.of("nbdkit", "-f", "-U", socket.toString(), "--filter=delay", "file",
                    raw.toString(), "wdelay=500ms"));
            EventStream events = EventStream.open(daemon);
            try {
                await("nbdkit listens").forever().pollInterval(Duration.ofMillis(50)).until(() -> Files.exists(socket));
                ObjectNode request = RestClient.jobRequest("c1", "vm").put("copiesInFlight", 1);
                request.putObject("targets").putObject("vm").put("uri", "nbd+unix:///?socket=" + socket);
                String id = rest.startJob(request).path("id").asText();
                await("job-finished").forever().pollInterval(Duration.ofMillis(100))
                        .until(() -> events.has("job-finished", id));

                List<EventStream.Event> all = events.events().stream()
                        .filter(e -> id.equals(e.data().path("job").asText())).toList();
                List<JsonNode> progress = events.all("job-progress", id).stream().map(EventStream.Event::data).toList();
                assertEquals("job-finished", all.getLast().type(), "the end event comes last: " + all);
                assertTrue(progress.size() >= 2, "a push of four seconds tells its progress more than once: " + all);
                long total = all.getLast().data().path("progress").path("totalBytes").asLong();
                assertEquals(disk, total, "every byte of the disk is data: " + all.getLast());
                assertEquals(total, all.getLast().data().path("progress").path("doneBytes").asLong(),
                        "the end event carries the last progress: all done " + all.getLast());
                for (int i = 1; i < progress.size(); i++) {
                    JsonNode before = progress.get(i - 1);
                    JsonNode now = progress.get(i);
                    long gap = Duration.between(Instant.parse(before.path("at").asText()),
                            Instant.parse(now.path("at").asText())).toMillis();
                    assertTrue(gap >= 1000, "at most one event a second: " + before + " then " + now);
                    assertTrue(now.path("doneBytes").asLong() >= before.path("doneBytes").asLong(), "never backwards: "
                            + before + " then " + now);
                }
                for (JsonNode p : progress) {
                    assertTrue(p.path("doneBytes").asLong() <= total, p.toString());
                }
                assertTrue(progress.stream().map(p -> p.path("doneBytes").asLong()).distinct().count() >= 2,
                        "doneBytes grows while the job runs: " + progress);
            } finally {
                events.close();
                server.destroyForcibly();
                server.waitFor();
            }
        }
    }

    @Test
    void aCrashMidPushFailsTheJobLeavesTheChainAndNoFileClaimingToBeABackup() throws Exception {
        Tool.require("qemu-img", "qemu-io");
        Path backups = dir.resolve("backups");
        try (DaemonUnderTest daemon = DaemonUnderTest.in(dir.resolve("daemon"))
                .config("backupDirs", "[" + backups + "]").start()) {
            RestClient rest = daemon.rest();
            // 1 GiB of data, written beside the daemon: a push of it takes seconds, long enough to kill it in the middle
            Path image = daemon.images().resolve("vm.qcow2");
            Tool.run("qemu-img", "create", "-f", "qcow2", image.toString(), "1G").ok();
            Tool.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 256M", "-c", "write -P 0x5b 256M 256M",
                    "-c", "write -P 0x5c 512M 256M", "-c", "write -P 0x5d 768M 256M", image.toString()).ok();
            rest.attach("vm", image, "qcow2");
            // c0 by a pull job: the checkpoint the chain must still end at after each crash
            rest.finish(rest.startJob(RestClient.jobRequest("c0", "vm")).path("id").asText(), "success");
            Path base = backups.resolve("vm.c0.qcow2");
            Tool.run("qemu-img", "create", "-f", "qcow2", base.toString(), "1G").ok();

            Path deleted = backups.resolve("vm.c1.qcow2");
            String first = pushThenKill(daemon, deleted, false);
            assertCrashed(rest, first);
            assertFalse(Files.exists(deleted), "the partial backup is deleted at the start");
            assertTrue(daemon.log().contains("job " + first + ": deleted the partial backup " + deleted), daemon.log());

            Path kept = backups.resolve("vm.c1-kept.qcow2");
            String second = pushThenKill(daemon, kept, true);
            assertCrashed(rest, second);
            Path partial = backups.resolve("vm.c1-kept.qcow2.partial");
            assertFalse(Files.exists(kept), "no file of the backup's name is left");
            assertTrue(Files.exists(partial), "keepPartial: the file is kept, marked partial");
            assertTrue(daemon.log().contains("job " + second + ": kept the partial backup " + kept + " as " + partial),
                    daemon.log());

            ObjectNode retry = RestClient.jobRequest("c1", "vm").put("incrementalFrom", "c0");
            retry.putObject("targets").putObject("vm").put("path", backups.resolve("vm.c1-retry.qcow2").toString())
                    .put("format", "qcow2").put("backingFile", base.toString());
            JsonNode ended = PushBackupIT.awaitEnd(rest, rest.startJob(retry).path("id").asText());
            assertEquals("finished", ended.path("state").asText(), ended.toString());
            assertEquals("incremental", ended.path("disks").get(0).path("mode").asText(),
                    "the crashed jobs never happened: c1 is free and c0 is still the newest: " + ended);
        }
    }

    /** Starts a full push of c1 into {@code file}, kills the daemon once it has copied some but not all, starts it again. */
    private static String pushThenKill(DaemonUnderTest daemon, Path file, boolean keepPartial) throws Exception {
        RestClient rest = daemon.rest();
        ObjectNode request = RestClient.jobRequest("c1", "vm").put("copiesInFlight", 1).put("keepPartial", keepPartial);
        request.putObject("targets").putObject("vm").put("path", file.toString()).put("format", "qcow2");
        String id = rest.startJob(request).path("id").asText();
        JsonNode[] seen = new JsonNode[1];
        await("the push has copied something").forever().pollInterval(Duration.ofMillis(20)).until(() -> {
            seen[0] = rest.job(id);
            return !seen[0].path("state").asText().equals("running") || seen[0].path("progress").path("doneBytes").asLong() > 0;
        });
        daemon.kill();
        JsonNode p = seen[0].path("progress");
        assertEquals("running", seen[0].path("state").asText(), "killed in the middle of the copy: " + seen[0]);
        assertTrue(p.path("doneBytes").asLong() < p.path("totalBytes").asLong(), "killed in the middle: " + seen[0]);
        assertTrue(Files.exists(file), "the push was writing " + file);
        daemon.restart();
        return id;
    }

    private static void assertCrashed(RestClient rest, String id) throws Exception {
        JsonNode job = rest.job(id);
        assertEquals("failed", job.path("state").asText(), job.toString());
        assertEquals("crash", job.path("failureReason").asText(), job.toString());
    }
}
