package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.it.NbdDriver.NbdOutcome;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue #8, scenario 3: the temp image fills up (a 256 KiB quota holds four 64 KiB CBW clusters)
 * while the guest writes to sixteen clusters, under each {@code onCbwError} policy.
 *
 * <pre>
 *   guest ──write 16 clusters──▶ [CBW, temp quota 256 KiB] ──▶ vm.qcow2 (all 0x11 before the job)
 *                                        │ 4 copies fit, the 5th does not
 *   reader ◀── fleece export ◀── [snapshot access]
 * </pre>
 */
class TempImageFullIT {
    private static final long DISK = 8 << 20;
    private static final long CLUSTER = 64 << 10;
    private static final int WRITES = 16;
    private static final long QUOTA = 4 * CLUSTER;

    /** The pattern table: what each policy breaks when the fifth copy does not fit. */
    enum Row {
        /** The default: every guest write lands; the job fails and every snapshot read is EIO naming the quota. */
        BREAK_SNAPSHOT("break-snapshot", WRITES, "failed"),
        /** The guest's fifth write fails with ENOSPC naming the quota; the snapshot stays whole and correct. */
        BREAK_GUEST_WRITE("break-guest-write", 4, "running");

        final String policy;
        final int writesThatLand;
        final String jobState;

        Row(String policy, int writesThatLand, String jobState) {
            this.policy = policy;
            this.writesThatLand = writesThatLand;
            this.jobState = jobState;
        }
    }

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Row.class)
    void aFullTempImageBreaksWhatThePolicySays(Row row) throws Exception {
        Tool.require("nbdcopy");
        NbdDriver.requireLibnbd();
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", DISK);
            String active = daemon.nbdUri("vm");
            assertTrue(NbdDriver.libnbd(active, "write:0:" + DISK + ":0x11").ok());
            Path before = NbdDriver.copy(active, dir.resolve("before.raw"));

            JsonNode job = rest.startJob(RestClient.jobRequest("c1", "vm").put("onCbwError", row.policy)
                    .put("tempQuotaBytes", QUOTA));
            String id = job.path("id").asText();
            String snapshot = job.path("disks").get(0).path("uri").asText();

            List<String> writes = new ArrayList<>();
            for (int i = 0; i < WRITES; i++) {
                writes.add("write:" + (i * CLUSTER + 1000) + ":4096:0x22");
            }
            List<NbdOutcome> guest = NbdDriver.libnbd(active, null, writes.toArray(String[]::new));
            for (int i = 0; i < WRITES; i++) {
                NbdOutcome w = guest.get(i);
                if (i < row.writesThatLand) {
                    assertTrue(w.ok(), "guest write " + i + ": " + w);
                } else {
                    assertEquals("ENOSPC", w.errno(), "guest write " + i + ": " + w);
                    assertTrue(String.valueOf(w.message()).contains("temp quota of " + QUOTA + " bytes is full"),
                            "the guest's error names the cause: " + w);
                }
                String landed = "read:" + (i * CLUSTER + 1000) + ":4096:" + (i < row.writesThatLand ? "0x22" : "0x11");
                assertTrue(NbdDriver.libnbd(active, landed).ok(), "the disk after write " + i);
            }

            JsonNode after = rest.job(id);
            assertEquals(row.jobState, after.path("state").asText(), after.toString());
            if (row == Row.BREAK_SNAPSHOT) {
                assertTrue(after.path("failureReason").asText().contains("temp quota of " + QUOTA + " bytes is full"),
                        "failureReason names the quota: " + after);
                for (long offset : new long[] {0, 5 * CLUSTER, DISK - CLUSTER}) {
                    NbdOutcome read = NbdDriver.libnbd(snapshot, "read:" + offset + ":4096");
                    assertEquals("EIO", read.errno(), "snapshot read at " + offset + ": " + read);
                    assertTrue(String.valueOf(read.message()).contains("temp quota"),
                            "the reader's error names the cause, not a follow-on error: " + read);
                }
                assertFalse(Tool.run("nbdcopy", snapshot, dir.resolve("broken.raw").toString()).exit() == 0,
                        "a broken snapshot must not copy as if it were whole");
            } else {
                assertFalse(after.has("failureReason"), after.toString());
                Path copy = NbdDriver.copy(snapshot, dir.resolve("snapshot.raw"));
                NbdDriver.assertSameBytes(before, copy, "the snapshot after the guest's writes broke");
                assertEquals("finished", rest.finish(id, "success").path("state").asText());
            }
            assertTrue(daemon.alive(), daemon.log());
            assertTrue(Files.exists(daemon.images().resolve("vm.qcow2")));
        }
    }
}
