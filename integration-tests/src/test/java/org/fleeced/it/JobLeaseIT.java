package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A reader that disappears does not leave an orphaned job: when nobody renews a job's lease, the
 * daemon finishes it as a failure, removes its export and temp image, and the job never
 * happened: its checkpoint is gone, so a retry may use the same name. A renewed lease keeps the job alive.
 */
class JobLeaseIT {
    private static final long DISK = 64 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void clients() {
        Tool.require("qemu-img", "qemu-io", "nbdinfo");
    }

    @Test
    void expiredLeaseFailsTheJobAndCleansUp() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 4M");
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1").put("leaseSeconds", 1));
            String id = job.get("id").asText();
            String export = job.at("/disks/0/export").asText();

            await("the job fails when its lease runs out").atMost(Duration.ofSeconds(20))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> daemon.rest().job(id).get("state").asText().equals("failed"));
            await("its export is gone from nbdinfo --list").atMost(Duration.ofSeconds(10))
                    .until(() -> !NbdDriver.exports(daemon.nbdServer()).contains(export));
            assertTrue(NbdDriver.exports(daemon.nbdServer()).contains("vm1"), "the disk's own export stays");
            await("its temp image is deleted").atMost(Duration.ofSeconds(10)).until(() -> isEmpty(daemon.tempDir()));
            JsonNode failed = daemon.rest().job(id);
            assertTrue(failed.path("failureReason").asText().contains("lease"), failed.toString());
            assertEquals(List.of(), listOf(daemon.rest().disk("vm1").get("jobs")));

            assertEquals(0, daemon.rest().bitmaps("vm1").size(),
                    "the failed full job never happened: its checkpoint c1 is gone");
            JsonNode next = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1"));
            daemon.rest().finish(next.get("id").asText(), "success");
        }
    }

    @Test
    void renewedLeaseKeepsTheJobRunning() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1").put("leaseSeconds", 2));
            String id = job.get("id").asText();
            JsonNode renewed = daemon.rest().post("v1/jobs/" + id + "/lease", Map.of("leaseSeconds", 600))
                    .expect(200).json();
            Instant expires = Instant.parse(renewed.get("leaseExpiresAt").asText());
            assertTrue(expires.isAfter(Instant.now().plusSeconds(500)), renewed.toString());

            await("the renewed job outlives its first lease").during(Duration.ofSeconds(4))
                    .atMost(Duration.ofSeconds(8)).pollInterval(Duration.ofMillis(500))
                    .until(() -> daemon.rest().job(id).get("state").asText().equals("running"));
            assertTrue(NbdDriver.exports(daemon.nbdServer()).contains(job.at("/disks/0/export").asText()));
            assertEquals("finished", daemon.rest().finish(id, "success").get("state").asText());
        }
    }

    private static boolean isEmpty(Path directory) throws java.io.IOException {
        try (Stream<Path> files = Files.list(directory)) {
            return files.findAny().isEmpty();
        }
    }

    private static List<String> listOf(JsonNode array) {
        assertFalse(array == null || !array.isArray(), "an array: " + array);
        return Stream.of(RestClient.JSON.convertValue(array, String[].class)).toList();
    }
}
