package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue #8, scenario 4: a reader that dies in the middle of a job and reconnects. The guest keeps
 * writing (before, while and after the reader dies), and the reconnected reader's copy equals the
 * disk as it was when the job started. The server must also notice the dead connections.
 *
 * <pre>
 *   guest ──writes──▶ vm ──CBW──▶ temp
 *   reader 1 ──▶ fleece export   killed with SIGKILL mid-way (row: how)
 *   reader 2 ──▶ fleece export   nbdcopy, compared with the disk at job start
 * </pre>
 */
class ReaderReconnectScenarioIT {
    private static final long DISK = 16 << 20;

    /** How the first reader dies. */
    enum Row {
        /** nbdcopy (multi-conn, requests in flight) writing to a pipe nobody drains after 4 MiB. */
        NBDCOPY_BLOCKED_ON_ITS_OUTPUT,
        /** libnbd with 32 reads of 64 KiB in flight, killed before reading a reply. */
        LIBNBD_WITH_READS_IN_FLIGHT,
        /** libnbd that read the first half in order, then died between requests. */
        LIBNBD_BETWEEN_REQUESTS
    }

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Row.class)
    void aReconnectedReaderReadsTheSameSnapshot(Row row) throws Exception {
        Tool.require("nbdcopy");
        Tool.require("fio");
        LibnbdClient.require();
        try (ScenarioDaemon daemon = ScenarioDaemon.start(dir.resolve("daemon"))) {
            ScenarioRest rest = daemon.rest();
            rest.create("vm", daemon.image("vm.qcow2"), DISK);
            String active = daemon.uri("vm");
            Tool.run("fio", "--name=fill", "--ioengine=nbd", "--uri=" + active, "--rw=write", "--bs=1M",
                    "--size=16M", "--randseed=4").ok();
            Path expected = ImageBytes.copy(active, dir.resolve("expected.raw"));
            JsonNode job = rest.startJob(ScenarioRest.job("c1", "vm"));
            String snapshot = job.path("disks").get(0).path("uri").asText();
            guestWrites(active, 0x44, 0);

            Process reader = switch (row) {
                case NBDCOPY_BLOCKED_ON_ITS_OUTPUT -> {
                    ProcessBuilder b = new ProcessBuilder("nbdcopy", snapshot, "-")
                            .redirectError(ProcessBuilder.Redirect.DISCARD);
                    b.environment().put("PATH", Tool.PATH);
                    Process p = b.start();
                    InputStream out = p.getInputStream();
                    assertEquals(4 << 20, out.readNBytes(4 << 20).length, "nbdcopy copied 4 MiB");
                    yield p;
                }
                case LIBNBD_WITH_READS_IN_FLIGHT -> started(LibnbdClient.start(snapshot, null, "hold:32:0"));
                case LIBNBD_BETWEEN_REQUESTS -> started(LibnbdClient.start(snapshot, null,
                        "read:0:" + DISK / 2, "hold:0:0"));
            };
            guestWrites(active, 0x55, 32 << 10);
            reader.destroyForcibly().waitFor();
            await().atMost(Duration.ofSeconds(20)).until(() -> openConnections(rest) == 0);
            guestWrites(active, 0x66, 0);

            ImageBytes.assertSame(expected, ImageBytes.copy(snapshot, dir.resolve("again.raw")),
                    "the reconnected reader's copy");
            ImageBytes.assertSame(expected, ImageBytes.copy(snapshot, dir.resolve("third.raw")),
                    "a second reconnect");
            JsonNode after = rest.getJob(job.path("id").asText());
            assertEquals("running", after.path("state").asText(), after.toString());
            assertTrue(after.path("disks").get(0).path("stats").path("clustersCopied").asLong() > 0, after.toString());
            assertEquals("finished", rest.finish(job.path("id").asText(), "success").path("state").asText());
        }
    }

    /** 4 KiB of {@code fill} at every 1 MiB (plus {@code shift}): each write lands in its own CBW cluster. */
    private static void guestWrites(String active, int fill, long shift) throws Exception {
        List<String> ops = new java.util.ArrayList<>();
        for (long off = shift; off < DISK; off += 1 << 20) {
            ops.add("write:" + off + ":4096:" + fill);
        }
        for (JsonNode w : LibnbdClient.run(active, null, ops.toArray(String[]::new))) {
            assertTrue(w.path("ok").asBoolean(), w.toString());
        }
    }

    /** Waits for the client's "holding" line (the requests are on the wire). */
    private static Process started(Process p) throws Exception {
        var out = LibnbdClient.reader(p);
        for (JsonNode line = LibnbdClient.next(out); line != null; line = LibnbdClient.next(out)) {
            assertTrue(line.path("ok").asBoolean(), line.toString());
            if (line.has("holding")) {
                return p;
            }
        }
        throw new AssertionError("the reader ended before holding its reads");
    }

    static long openConnections(ScenarioRest rest) throws Exception {
        for (String line : rest.get("/metrics").raw().split("\n")) {
            if (line.startsWith("fleeced_nbd_connections ")) {
                return (long) Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim());
            }
        }
        throw new AssertionError("no fleeced_nbd_connections in /metrics");
    }
}
