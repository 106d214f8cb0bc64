package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15 part 2: the block checksum of a snapshot, computed three ways that must agree: by the
 * daemon ({@code GET /v1/jobs/{job}/disks/{disk}/checksum}), by the reference command
 * ({@code bin/fleeced checksum} on the export and on a copy), and by a few lines of Python over
 * {@code qemu-img convert -O raw} of the export: the construction README states, reimplemented.
 *
 * <pre>
 *   disk:   data 0..4M (0x11) | zero-written 8M..9M | hole | data 40M..41M (0x22) | hole to 64M+12K
 *   job c1 (full) ──▶ the guest overwrites 0..1M after the snapshot point
 *   job c2 (incremental from c1) ──▶ scope full needs keepWholeSnapshot
 * </pre>
 * A checksum reads under the job's readLimits; that makes one slow enough to watch its progress
 * on the event stream and to hang up on it.
 */
class SnapshotChecksumIT {
    /** Not a multiple of the block size: the last block is short. */
    private static final long DISK = (64L << 20) + 12288;
    private static final Pattern HEX = Pattern.compile("\\b([0-9a-f]{64})\\b");
    private static final long MIB = 1L << 20;
    /** How long a state change may take to show on a loaded machine: a limit for a hang, not a speed. */
    private static final Duration PATIENCE = Duration.ofSeconds(60);
    /** The construction, from README, in Python: what any backup tool can run on its restored image. */
    private static final String PYTHON = """
            import hashlib, sys
            bs = int(sys.argv[2]); whole = hashlib.sha256()
            with open(sys.argv[1], 'rb') as f:
                while block := f.read(bs):
                    whole.update(hashlib.sha256(block).digest())
            print(whole.hexdigest())
            """;

    @TempDir
    Path dir;

    @BeforeAll
    static void clients() {
        Tool.require("qemu-img", "qemu-io", "python3");
    }

    @Test
    void theDaemonTheCommandAndPythonAgreeOnAFullSnapshot() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 4M", "-z 8M 1M", "-P 0x22 40M 1M");
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1"));
            String id = job.get("id").asText();
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x33 0 1M");

            for (int blockSize : new int[] {65536, 4096, 4 << 20}) {
                long readBefore = daemon.rest().job(id).at("/disks/0/stats/readBytes").asLong();
                JsonNode daemonSum = daemon.rest().get("v1/jobs/" + id + "/disks/vm1/checksum?blockSize=" + blockSize)
                        .expect(200).json();
                assertEquals("sha256", daemonSum.get("algorithm").asText());
                assertEquals(blockSize, daemonSum.get("blockSize").asInt());
                assertEquals(DISK, daemonSum.get("sizeBytes").asLong());
                String sum = daemonSum.get("checksum").asText();
                assertEquals(readBefore, daemon.rest().job(id).at("/disks/0/stats/readBytes").asLong(),
                        "the daemon's own reads are not counted as the reader's");

                String uri = daemon.fleeceUri(job, "vm1");
                Path raw = dir.resolve("snapshot-" + blockSize + ".raw");
                Tool.run("qemu-img", "convert", "-f", "raw", "-O", "raw", uri, raw.toString()).ok();
                assertEquals(sum, hex(Tool.run("python3", "-c", PYTHON, raw.toString(), Integer.toString(blockSize)).ok()),
                        "Python over qemu-img convert, block size " + blockSize);
                assertEquals(sum, hex(fleeced("checksum", "--block-size", Integer.toString(blockSize), raw.toString())),
                        "bin/fleeced checksum of the copy");
                assertEquals(sum, hex(fleeced("checksum", "--block-size", Integer.toString(blockSize), uri)),
                        "bin/fleeced checksum of the export");
            }
            daemon.rest().finish(id, "success");
        }
    }

    @Test
    void anIncrementalSnapshotIsChecksummedWholeWhenTheJobKeepsIt() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 4M");
            String c1 = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1")).get("id").asText();
            daemon.rest().finish(c1, "success");
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x44 2M 64k");

            String atSnapshot = daemon.rest().get("v1/disks/vm1/checksum").expect(200).json().get("checksum").asText();
            JsonNode partial = daemon.rest().startJob(RestClient.jobRequest("c2", "vm1").put("incrementalFrom", "c1"));
            // the default scope on an incremental job that keeps only its changes: refused before any read
            RestClient.Problem refused = daemon.rest()
                    .get("v1/jobs/" + partial.get("id").asText() + "/disks/vm1/checksum").expect(409).problem();
            assertEquals("SNAPSHOT_INCOMPLETE", refused.reason());
            assertTrue(refused.detail().contains("from byte 0") && refused.detail().contains("keepWholeSnapshot: true"),
                    refused.detail());
            daemon.rest().finish(partial.get("id").asText(), "failure");

            JsonNode kept = daemon.rest().startJob(RestClient.jobRequest("c2", "vm1").put("incrementalFrom", "c1")
                    .put("keepWholeSnapshot", true));
            String id = kept.get("id").asText();
            assertEquals("incremental", kept.at("/disks/0/mode").asText());
            // after the snapshot point, outside the changes: the job keeps the old data all the same
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x55 0 1M");
            String snapshotSum = daemon.rest().get("v1/jobs/" + id + "/disks/vm1/checksum?scope=full").expect(200)
                    .json().get("checksum").asText();
            assertEquals(atSnapshot, snapshotSum, "the whole snapshot is the disk as it was at the start");
            assertNotEquals(atSnapshot, daemon.rest().get("v1/disks/vm1/checksum").expect(200).json()
                    .get("checksum").asText(), "the disk itself has changed since");
            daemon.rest().finish(id, "success");
        }
    }

    /**
     * The checksum reads as the job's reader does, so the job's read limit holds it back: 16 MiB
     * of data at 4 MiB/s cannot take less than 3.9 s (the limit's burst is a tenth of a second's
     * worth), so the event stream gets progress before the answer, and the job's stats show it.
     */
    @Test
    void aChecksumHeldBackByTheJobsReadLimitReportsItsProgress() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir); EventStream events = EventStream.open(daemon)) {
            String id = sixteenMiBUnderAReadLimit(daemon, 4 * MIB);

            CompletableFuture<RestClient.Reply> answer = CompletableFuture.supplyAsync(() -> checksum(daemon, id));
            await("the running checksum in the job's stats").atMost(PATIENCE).until(() -> answer.isDone()
                    || daemon.rest().job(id).at("/disks/0/stats/checksumSizeBytes").asLong() == DISK);
            String sum = answer.get().expect(200).json().get("checksum").asText();

            await("checksum-finished").atMost(PATIENCE).until(() -> events.has("checksum-finished", id));
            EventStream.Event finished = events.find("checksum-finished", id);
            assertEquals(sum, finished.data().get("checksum").asText(), finished.toString());
            assertEquals("vm1", finished.data().get("disk").asText(), finished.toString());
            List<EventStream.Event> progress = events.all("checksum-progress", id);
            assertFalse(progress.isEmpty(), "progress before the answer: " + events.types());
            long done = 0;
            for (EventStream.Event p : progress) {
                assertEquals(DISK, p.data().get("sizeBytes").asLong(), p.toString());
                assertTrue(p.data().get("doneBytes").asLong() >= done, "progress never goes back: " + progress);
                done = p.data().get("doneBytes").asLong();
            }
            assertTrue(progress.getFirst().data().get("doneBytes").asLong() < DISK,
                    "progress is sent while the checksum runs: " + progress);
            assertTrue(events.types().indexOf("checksum-finished") > events.types().indexOf("checksum-progress"),
                    events.types().toString());
            assertTrue(daemon.rest().job(id).at("/disks/0/stats/checksumDoneBytes").isMissingNode(),
                    "no checksum runs any more");
            daemon.rest().finish(id, "success");
        }
    }

    /**
     * A blocking checksum whose client goes away (the socket closed mid-request) stops: the log
     * says so, the job's stats no longer show it, it never finishes, and a new one may start. At
     * 1 MiB/s the 16 MiB checksum would run for at least 15 s.
     */
    @Test
    void aClientThatDisconnectsStopsTheChecksum() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir); EventStream events = EventStream.open(daemon)) {
            String id = sixteenMiBUnderAReadLimit(daemon, MIB);

            URI base = URI.create(daemon.rest().base());
            try (Socket client = new Socket(base.getHost(), base.getPort())) {
                String request = "GET /v1/jobs/" + id + "/disks/vm1/checksum HTTP/1.1\r\nHost: " + base.getAuthority()
                        + "\r\n" + (daemon.token() == null ? "" : "Authorization: Bearer " + daemon.token() + "\r\n")
                        + "\r\n";
                client.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
                client.getOutputStream().flush();
                await("the checksum under way").atMost(PATIENCE)
                        .until(() -> daemon.rest().job(id).at("/disks/0/stats/checksumDoneBytes").asLong() > 0);
            }
            await("the checksum stopped").atMost(PATIENCE)
                    .until(() -> daemon.rest().job(id).at("/disks/0/stats/checksumDoneBytes").isMissingNode());
            await("the log says why").atMost(PATIENCE)
                    .untilAsserted(() -> assertTrue(daemon.log().contains("the caller went away"), daemon.log()));
            assertFalse(events.has("checksum-finished", id), "a stopped checksum never finishes");

            daemon.rest().patch("v1/jobs/" + id, Map.of("readLimits", Map.of())).expect(200);
            assertEquals(DISK, daemon.rest().get("v1/jobs/" + id + "/disks/vm1/checksum").expect(200).json()
                    .get("sizeBytes").asLong(), "a new checksum runs once the old one stopped");
            daemon.rest().finish(id, "success");
        }
    }

    /** A disk with 16 MiB of data in a full job whose reader is held to {@code bytesPerSecond}; the job's id. */
    private static String sixteenMiBUnderAReadLimit(DaemonUnderTest daemon, long bytesPerSecond) throws Exception {
        daemon.attachNewQcow2("vm1", DISK);
        NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 16M");
        return daemon.rest().startJob(RestClient.jobRequest("c1", "vm1").set("readLimits",
                RestClient.JSON.valueToTree(Map.of("bytesPerSecond", bytesPerSecond)))).get("id").asText();
    }

    private static RestClient.Reply checksum(DaemonUnderTest daemon, String job) {
        try {
            return daemon.rest().send(daemon.rest().request("v1/jobs/" + job + "/disks/vm1/checksum")
                    .timeout(Duration.ofMinutes(10)).GET());
        } catch (IOException | InterruptedException e) {
            throw new CompletionException(e);
        }
    }

    @Test
    void aBlockSizeOutsideTheRangeIsABadRequest() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", 1 << 20);
            assertEquals("INVALID_REQUEST", daemon.rest().get("v1/disks/vm1/checksum?blockSize=65535").expect(400)
                    .problem().reason());
            assertEquals("INVALID_REQUEST", daemon.rest().get("v1/disks/vm1/checksum?blockSize=2048").expect(400)
                    .problem().reason());
        }
    }

    private static Tool fleeced(String... args) throws Exception {
        java.util.List<String> command = new java.util.ArrayList<>();
        command.add(FleecedProcess.checkout().resolve("bin/fleeced").toString());
        command.addAll(java.util.List.of(args));
        return Tool.run(command).ok();
    }

    private static String hex(Tool tool) {
        Matcher m = HEX.matcher(tool.output());
        if (!m.find()) {
            throw new AssertionError("no checksum in: " + tool.output());
        }
        return m.group(1);
    }
}
