package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12 point 6: {@code GET /v1/jobs/{id}} answers after a restart, for jobs that ended, for
 * a job the daemon's stop failed (reason shutdown) and for one a crash interrupted (reason crash,
 * found at the next start), and the history itself survives a kill -9.
 *
 * <pre>
 *   run 1: job A (c1) finished with success; job B (c2, incremental) running ── SIGTERM
 *   run 2: A finished, B failed "shutdown";  job C (c3, full) running ── kill -9
 *   run 3: A finished, B failed "shutdown", C failed "crash"; /health names C as crashed
 * </pre>
 */
class JobHistoryAcrossRestartsIT {
    private static final long DISK = 64 << 20;

    @TempDir
    Path dir;

    @Test
    void endedShutDownAndCrashedJobsAnswerAfterARestart() throws Exception {
        Tool.require("qemu-img", "qemu-io");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            RestClient rest = daemon.rest();
            daemon.attachNewQcow2("vm1", DISK);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 4M");
            String a = rest.startJob(RestClient.jobRequest("c1", "vm1")).get("id").asText();
            rest.finish(a, "success");
            String b = rest.startJob(RestClient.jobRequest("c2", "vm1").put("incrementalFrom", "c1")).get("id")
                    .asText();
            assertEquals(0, daemon.stop(), daemon.log());

            daemon.restart();
            assertEnded(rest.job(a), "finished", null);
            assertEnded(rest.job(b), "failed", "shutdown");
            assertEquals(List.of(), ids(rest.get("health").expect(200).json().at("/recovered/crashedJobs")),
                    "a clean stop leaves no crashed job");
            String c = rest.startJob(RestClient.jobRequest("c3", "vm1")).get("id").asText();
            assertEquals("running", rest.job(c).get("state").asText());
            daemon.kill();

            daemon.restart();
            assertEnded(rest.job(a), "finished", null);
            assertEnded(rest.job(b), "failed", "shutdown");
            assertEnded(rest.job(c), "failed", "crash");
            JsonNode health = rest.get("health").expect(200).json();
            assertEquals(List.of(c), ids(health.at("/recovered/crashedJobs")), health.toString());
            List<String> listed = ids(rest.get("v1/jobs").expect(200).json().findValues("id"));
            assertTrue(listed.containsAll(List.of(a, b, c)), "GET /v1/jobs lists the ended jobs: " + listed);
            rest.post("v1/jobs/" + c + "/lease", Map.of()).expect(409);
            assertEquals(0, daemon.stop(), daemon.log());

            daemon.restart();
            assertEnded(rest.job(c), "failed", "crash");
            assertEquals(List.of(), ids(rest.get("health").expect(200).json().at("/recovered/crashedJobs")),
                    "a crash is reported by the start that found it, once");
        }
    }

    private static void assertEnded(JsonNode job, String state, String reason) {
        assertEquals(state, job.path("state").asText(), job.toString());
        if (reason == null) {
            assertFalse(job.has("failureReason"), job.toString());
        } else {
            assertEquals(reason, job.path("failureReason").asText(), job.toString());
        }
        assertTrue(job.hasNonNull("endedAt"), "an ended job says when it ended: " + job);
    }

    private static List<String> ids(Iterable<JsonNode> nodes) {
        List<String> ids = new ArrayList<>();
        nodes.forEach(n -> ids.add(n.asText()));
        return ids;
    }
}
