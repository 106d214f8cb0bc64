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
        NbdClients.requireAll();
    }

    @Test
    void expiredLeaseFailsTheJobAndCleansUp() throws Exception {
        try (RunningDaemon daemon = RunningDaemon.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            NbdClients.write(daemon.nbdUri("vm1"), "-P 0x11 0 4M");
            JsonNode job = daemon.startJob(Map.of("disks", List.of("vm1"), "checkpoint", "c1", "leaseSeconds", 1));
            String id = job.get("id").asText();
            String export = job.at("/disks/0/export").asText();

            await("the job fails when its lease runs out").atMost(Duration.ofSeconds(20))
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> daemon.job(id).get("state").asText().equals("failed"));
            await("its export is gone from nbdinfo --list").atMost(Duration.ofSeconds(10))
                    .until(() -> !NbdClients.exports(daemon.nbdServer()).contains(export));
            assertTrue(NbdClients.exports(daemon.nbdServer()).contains("vm1"), "the disk's own export stays");
            await("its temp image is deleted").atMost(Duration.ofSeconds(10)).until(() -> isEmpty(daemon.tempDir()));
            JsonNode failed = daemon.job(id);
            assertTrue(failed.path("failureReason").asText().contains("lease"), failed.toString());
            assertEquals(List.of(), listOf(daemon.rest().get("v1/disks/vm1").expect(200).json().get("jobs")));

            assertEquals(0, daemon.rest().get("v1/disks/vm1/bitmaps").expect(200).json().size(),
                    "the failed full job never happened: its checkpoint c1 is gone");
            JsonNode next = daemon.startJob(Map.of("disks", List.of("vm1"), "checkpoint", "c1"));
            daemon.finishJob(next.get("id").asText(), "success");
        }
    }

    @Test
    void renewedLeaseKeepsTheJobRunning() throws Exception {
        try (RunningDaemon daemon = RunningDaemon.start(dir)) {
            daemon.attachNewQcow2("vm1", DISK);
            JsonNode job = daemon.startJob(Map.of("disks", List.of("vm1"), "checkpoint", "c1", "leaseSeconds", 2));
            String id = job.get("id").asText();
            JsonNode renewed = daemon.rest().post("v1/jobs/" + id + "/lease", Map.of("leaseSeconds", 600))
                    .expect(200).json();
            Instant expires = Instant.parse(renewed.get("leaseExpiresAt").asText());
            assertTrue(expires.isAfter(Instant.now().plusSeconds(500)), renewed.toString());

            await("the renewed job outlives its first lease").during(Duration.ofSeconds(4))
                    .atMost(Duration.ofSeconds(8)).pollInterval(Duration.ofMillis(500))
                    .until(() -> daemon.job(id).get("state").asText().equals("running"));
            assertTrue(NbdClients.exports(daemon.nbdServer()).contains(job.at("/disks/0/export").asText()));
            assertEquals("finished", daemon.finishJob(id, "success").get("state").asText());
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
