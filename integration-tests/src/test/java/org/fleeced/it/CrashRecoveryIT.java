package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.fleeced.it.NbdDriver.Extent;
import org.fleeced.it.NbdDriver.LibnbdSession;
import org.fleeced.it.NbdDriver.NbdOutcome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #8, scenario 2: kill -9. The daemon is killed while a fleecing job runs (its reader holds
 * reads in flight) and while the guest writes. Afterwards the image passes {@code qemu-img check},
 * and after a restart the checkpoints are "recovered"; an incremental backup from the last
 * successful checkpoint works and covers every write the daemon acknowledged.
 *
 * <pre>
 *   guest: fills the disk and flushes
 *   c1: full backup, finished with success ─▶ full.raw
 *   guest: acknowledged writes to blocks [0, 2048)            (before the job)
 *   job c2 incrementalFrom c1 running, its reader holding 8 reads
 *   guest: acknowledged writes to blocks [2048, 4096) ... SIGKILL in the middle
 *   qemu-img check vm.qcow2; restart; GET bitmaps: c1 "recovered"
 *   job c3 incrementalFrom c1: full.raw + its dirty extents == the disk, every acked write inside
 * </pre>
 */
class CrashRecoveryIT {
    private static final long DISK = 16 << 20;
    private static final int BLOCK = 4096;
    private static final int ACKS_BEFORE_KILL = 300;

    @TempDir
    Path dir;

    @Test
    void afterKill9TheCheckpointsAreRecoveredAndAnIncrementalCoversEveryAcknowledgedWrite() throws Exception {
        Tool.require("qemu-img", "nbdcopy");
        NbdDriver.requireLibnbd();
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", DISK);
            Path image = daemon.images().resolve("vm.qcow2");
            String active = daemon.nbdUri("vm");
            // the workload fills the disk and flushes: an acked write is durable only after a flush
            // (a qcow2 cluster's allocation reaches the image then), as with QEMU; the acked
            // overwrites below need no flush, their clusters are allocated
            for (NbdOutcome done : NbdDriver.libnbd(active, null, "write:0:" + DISK + ":0x11", "flush")) {
                assertTrue(done.ok(), done.toString());
            }
            JsonNode c1 = rest.startJob(RestClient.jobRequest("c1", "vm"));
            Path full = NbdDriver.copy(c1.path("disks").get(0).path("uri").asText(), dir.resolve("full.raw"));
            rest.finish(c1.path("id").asText(), "success");

            Map<Long, Long> acked = new LinkedHashMap<>();
            for (NbdOutcome ack : NbdDriver.libnbd(active, null, "ackwrites:1:300:0:2048")) {
                if (ack.op().equals("ack")) {
                    acked.put(ack.raw().path("block").asLong(), ack.raw().path("tag").asLong());
                }
            }
            JsonNode c2 = rest.startJob(RestClient.jobRequest("c2", "vm").put("incrementalFrom", "c1"));
            List<NbdOutcome> during = new ArrayList<>();
            try (LibnbdSession reader = LibnbdSession.holding(c2.path("disks").get(0).path("uri").asText(), "hold:8:0");
                    LibnbdSession writer = LibnbdSession.start(active, null, "ackwrites:2:2048:2048:4096")) {
                for (NbdOutcome ack = writer.next(); ack != null && during.size() < ACKS_BEFORE_KILL;
                        ack = writer.next()) {
                    during.add(ack);
                }
                daemon.kill();
                for (NbdOutcome ack = writer.next(); ack != null; ack = writer.next()) {
                    during.add(ack);
                }
                writer.waitFor();
                reader.kill();
            }
            assertTrue(during.size() >= ACKS_BEFORE_KILL, "the guest wrote until the kill: " + during.size());
            during.stream().filter(a -> a.op().equals("ack"))
                    .forEach(a -> acked.put(a.raw().path("block").asLong(), a.raw().path("tag").asLong()));

            Tool check = Tool.run("qemu-img", "check", "-f", "qcow2", image.toString());
            assertTrue(check.exit() == 0 || check.exit() == 3, "qemu-img check: only leaks are allowed after a crash: "
                    + check.output());
            assertFalse(check.output().contains("ERROR"), "no corruption after a crash: " + check.output());

            daemon.restart();
            await().atMost(Duration.ofSeconds(30)).until(() -> rest.get("v1/disks/vm").status() == 200);
            JsonNode bitmaps = rest.bitmaps("vm");
            assertTrue(find(bitmaps, "c2") == null, "c2's job was running at the crash, so it never happened: " + bitmaps);
            JsonNode c1Bitmap = find(bitmaps, "c1");
            assertTrue(c1Bitmap != null, "checkpoint c1 survives the crash: " + bitmaps);
            assertEquals("recovered", c1Bitmap.path("state").asText(), bitmaps.toString());
            for (JsonNode b : bitmaps) {
                assertNotEquals("inconsistent", b.path("state").asText(), "fleeced recovers its own bitmaps: " + bitmaps);
            }

            JsonNode c3 = rest.startJob(RestClient.jobRequest("c3", "vm").put("incrementalFrom", "c1"));
            JsonNode disk = c3.path("disks").get(0);
            assertNotEquals("full", disk.path("mode").asText(), c3.toString());
            Path expected = NbdDriver.copy(daemon.nbdUri("vm"), dir.resolve("expected.raw"));
            NbdDriver.Increment increment = NbdDriver.readIncrement(disk.path("uri").asText(),
                    disk.path("metaContext").asText(), dir.resolve("inc.raw"));
            Path restore = Files.copy(full, dir.resolve("restore.raw"));
            increment.applyTo(restore);
            List<Extent> extents = increment.extents();
            try (RandomAccessFile r = new RandomAccessFile(restore.toFile(), "r")) {
                for (Map.Entry<Long, Long> a : acked.entrySet()) {
                    long offset = a.getKey() * BLOCK;
                    assertTrue(extents.stream().anyMatch(e -> e.offset() <= offset
                            && offset + BLOCK <= e.offset() + e.length()),
                            "acknowledged write at " + offset + " is in the incremental from c1");
                    byte[] got = new byte[8];
                    r.seek(offset);
                    r.readFully(got);
                    assertEquals(a.getValue(), ByteBuffer.wrap(got).order(ByteOrder.LITTLE_ENDIAN).getLong(),
                            "restored block at " + offset);
                }
            }
            NbdDriver.assertSameBytes(expected, restore, "full c1 + incremental from c1 after the crash");
            assertEquals("finished", rest.finish(c3.path("id").asText(), "success").path("state").asText());
        }
    }

    private static JsonNode find(JsonNode bitmaps, String name) {
        for (JsonNode b : bitmaps) {
            if (b.path("name").asText().equals(name)) {
                return b;
            }
        }
        return null;
    }
}
