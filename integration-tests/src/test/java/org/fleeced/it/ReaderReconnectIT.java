package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.it.NbdDriver.LibnbdSession;
import org.fleeced.it.NbdDriver.NbdOutcome;
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
class ReaderReconnectIT {
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
        Tool.require("nbdcopy", "fio");
        NbdDriver.requireLibnbd();
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", DISK);
            String active = daemon.nbdUri("vm");
            NbdDriver.fio("fill", active, "--rw=write", "--bs=1M", "--size=16M", "--randseed=4").ok();
            Path expected = NbdDriver.copy(active, dir.resolve("expected.raw"));
            JsonNode job = rest.startJob(RestClient.jobRequest("c1", "vm"));
            String snapshot = job.path("disks").get(0).path("uri").asText();
            guestWrites(active, 0x44, 0);

            Process reader = switch (row) {
                case NBDCOPY_BLOCKED_ON_ITS_OUTPUT -> {
                    Process p = Tool.start(List.of("nbdcopy", snapshot, "-"));
                    InputStream out = p.getInputStream();
                    assertEquals(4 << 20, out.readNBytes(4 << 20).length, "nbdcopy copied 4 MiB");
                    yield p;
                }
                case LIBNBD_WITH_READS_IN_FLIGHT -> LibnbdSession.holding(snapshot, "hold:32:0").process();
                case LIBNBD_BETWEEN_REQUESTS -> LibnbdSession.holding(snapshot, "read:0:" + DISK / 2, "hold:0:0")
                        .process();
            };
            guestWrites(active, 0x55, 32 << 10);
            reader.destroyForcibly().waitFor();
            await().atMost(Duration.ofSeconds(20)).until(() -> rest.openNbdConnections() == 0);
            guestWrites(active, 0x66, 0);

            NbdDriver.assertSameBytes(expected, NbdDriver.copy(snapshot, dir.resolve("again.raw")),
                    "the reconnected reader's copy");
            NbdDriver.assertSameBytes(expected, NbdDriver.copy(snapshot, dir.resolve("third.raw")),
                    "a second reconnect");
            JsonNode after = rest.job(job.path("id").asText());
            assertEquals("running", after.path("state").asText(), after.toString());
            assertTrue(after.path("disks").get(0).path("stats").path("clustersCopied").asLong() > 0, after.toString());
            assertEquals("finished", rest.finish(job.path("id").asText(), "success").path("state").asText());
        }
    }

    /** 4 KiB of {@code fill} at every 1 MiB (plus {@code shift}): each write lands in its own CBW cluster. */
    private static void guestWrites(String active, int fill, long shift) throws Exception {
        List<String> ops = new ArrayList<>();
        for (long off = shift; off < DISK; off += 1 << 20) {
            ops.add("write:" + off + ":4096:" + fill);
        }
        for (NbdOutcome w : NbdDriver.libnbd(active, null, ops.toArray(String[]::new))) {
            assertTrue(w.ok(), w.toString());
        }
    }
}
