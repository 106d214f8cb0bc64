package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
class TempFullScenarioIT {
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
        LibnbdClient.require();
        try (ScenarioDaemon daemon = ScenarioDaemon.start(dir.resolve("daemon"))) {
            ScenarioRest rest = daemon.rest();
            rest.create("vm", daemon.image("vm.qcow2"), DISK);
            String active = daemon.uri("vm");
            assertTrue(LibnbdClient.one(active, "write:0:" + DISK + ":0x11").path("ok").asBoolean());
            Path before = ImageBytes.copy(active, dir.resolve("before.raw"));

            JsonNode job = rest.startJob(ScenarioRest.job("c1", "vm").put("onCbwError", row.policy)
                    .put("tempQuotaBytes", QUOTA));
            String id = job.path("id").asText();
            String snapshot = job.path("disks").get(0).path("uri").asText();

            List<String> writes = new ArrayList<>();
            for (int i = 0; i < WRITES; i++) {
                writes.add("write:" + (i * CLUSTER + 1000) + ":4096:0x22");
            }
            List<JsonNode> guest = LibnbdClient.run(active, null, writes.toArray(String[]::new));
            for (int i = 0; i < WRITES; i++) {
                JsonNode w = guest.get(i);
                if (i < row.writesThatLand) {
                    assertTrue(w.path("ok").asBoolean(), "guest write " + i + ": " + w);
                } else {
                    assertEquals("ENOSPC", w.path("errno").asText(), "guest write " + i + ": " + w);
                    assertTrue(w.path("message").asText().contains("temp quota of " + QUOTA + " bytes is full"),
                            "the guest's error names the cause: " + w);
                }
                String landed = "read:" + (i * CLUSTER + 1000) + ":4096:" + (i < row.writesThatLand ? "0x22" : "0x11");
                assertTrue(LibnbdClient.one(active, landed).path("ok").asBoolean(), "the disk after write " + i);
            }

            JsonNode after = rest.getJob(id);
            assertEquals(row.jobState, after.path("state").asText(), after.toString());
            if (row == Row.BREAK_SNAPSHOT) {
                assertTrue(after.path("failureReason").asText().contains("temp quota of " + QUOTA + " bytes is full"),
                        "failureReason names the quota: " + after);
                for (long offset : new long[] {0, 5 * CLUSTER, DISK - CLUSTER}) {
                    JsonNode read = LibnbdClient.one(snapshot, "read:" + offset + ":4096");
                    assertEquals("EIO", read.path("errno").asText(), "snapshot read at " + offset + ": " + read);
                    assertTrue(read.path("message").asText().contains("temp quota"),
                            "the reader's error names the cause, not a follow-on error: " + read);
                }
                assertFalse(Tool.run("nbdcopy", snapshot, dir.resolve("broken.raw").toString()).exit() == 0,
                        "a broken snapshot must not copy as if it were whole");
            } else {
                assertFalse(after.has("failureReason"), after.toString());
                Path copy = ImageBytes.copy(snapshot, dir.resolve("snapshot.raw"));
                ImageBytes.assertSame(before, copy, "the snapshot after the guest's writes broke");
                assertEquals("finished", rest.finish(id, "success").path("state").asText());
            }
            assertTrue(daemon.alive(), daemon.log());
            assertTrue(Files.exists(daemon.images().resolve("vm.qcow2")));
        }
    }
}
