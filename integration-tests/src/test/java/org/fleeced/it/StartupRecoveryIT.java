package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12 point 5 and #14 point 5: after a kill -9, the next start cleans up what the crash
 * left before {@code /health} answers ok, and reports it instead of dropping it.
 *
 * <pre>
 *   run 1: disks a, b (qcow2) and r (raw); a full job c1 on a+b, finished; job J on a+b with
 *          checkpoint c2 incremental from c1, guest writes copied to J's temp images; tmp/ also
 *          holds a stray temp image of a job no history knows, and an unrelated file ── kill -9
 *   run 2: REST and NBD listen before any disk is attached; /health: 503 "starting", then 200
 *          with recovered = {crashedJobs [J], deletedTempImages [J's two, the stray one],
 *          bitmaps [a/c1, b/c1 recovered, ...]}; one log line per deleted file; tmp/ holds only the
 *          unrelated file; every disk is attached; GET job J: failed, crash
 * </pre>
 */
class StartupRecoveryIT {
    private static final long DISK = 32 << 20;

    @TempDir
    Path dir;

    @Test
    void afterKill9TheStartDeletesLeftoverTempImagesAndReportsWhatItRecovered() throws Exception {
        Tool.require("qemu-img", "qemu-io");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            RestClient rest = daemon.rest();
            daemon.attachNewQcow2("a", DISK);
            daemon.attachNewQcow2("b", DISK);
            Path raw = daemon.images().resolve("r.raw");
            Tool.run("qemu-img", "create", "-q", "-f", "raw", raw.toString(), Long.toString(DISK)).ok();
            rest.attach("r", raw, "raw");
            for (String d : List.of("a", "b")) {
                NbdDriver.write(daemon.nbdUri(d), "-P 0x11 0 4M");
            }
            rest.finish(rest.startJob(RestClient.jobRequest("c1", "a", "b")).get("id").asText(), "success");
            for (String d : List.of("a", "b")) {
                NbdDriver.write(daemon.nbdUri(d), "-P 0x22 0 1M");
            }
            String job = rest.startJob(RestClient.jobRequest("c2", "a", "b").put("incrementalFrom", "c1")).get("id")
                    .asText();
            for (String d : List.of("a", "b")) {
                NbdDriver.write(daemon.nbdUri(d), "-P 0x33 0 1M");
            }
            Set<String> leftovers = new TreeSet<>();
            try (Stream<Path> temps = Files.list(daemon.tempDir())) {
                temps.forEach(p -> leftovers.add(p.toString()));
            }
            assertEquals(2, leftovers.size(), "the job's temp images: " + leftovers);
            Path stray = Files.writeString(daemon.tempDir().resolve("fleece-" + UUID.randomUUID() + "-old.qcow2"), "x");
            leftovers.add(stray.toString());
            Path unrelated = Files.writeString(daemon.tempDir().resolve("keep.raw"), "not a job's");
            daemon.kill();

            daemon.restart();
            String log = daemon.log();
            int listening = Math.max(log.indexOf("REST listening on"), log.indexOf("NBD listening on"));
            for (String d : List.of("a", "b", "r")) {
                int attached = log.indexOf("disk " + d + ": attached");
                assertTrue(attached > listening, "REST and NBD listen before disk " + d + " is attached:\n" + log);
            }
            JsonNode health = rest.get("health").expect(200).json();
            assertEquals("ok", health.path("status").asText(), health.toString());
            JsonNode recovered = health.path("recovered");
            assertEquals(List.of(job), texts(recovered.path("crashedJobs")), health.toString());
            assertEquals(leftovers, new TreeSet<>(texts(recovered.path("deletedTempImages"))), health.toString());
            assertEquals(List.of(), texts(recovered.path("disksNotAttached")), health.toString());
            Set<String> bitmaps = new TreeSet<>();
            recovered.path("bitmaps").forEach(bm -> bitmaps.add(bm.path("disk").asText() + "/"
                    + bm.path("bitmap").asText() + " " + bm.path("state").asText()));
            assertTrue(bitmaps.containsAll(Set.of("a/c1 recovered", "b/c1 recovered")), health.toString());
            for (String file : leftovers) {
                assertTrue(log.contains("deleted temp image " + file + " of job "), "one log line per file:\n" + log);
            }
            try (Stream<Path> temps = Files.list(daemon.tempDir())) {
                assertEquals(List.of(unrelated), temps.toList(), "only the unrelated file is left");
            }
            assertEquals(3, rest.get("v1/disks").expect(200).json().size(), "every disk attached again");
            JsonNode crashed = rest.job(job);
            assertEquals("failed", crashed.path("state").asText(), crashed.toString());
            assertEquals("crash", crashed.path("failureReason").asText(), crashed.toString());
            rest.startJob(RestClient.jobRequest("c3", "a").put("incrementalFrom", "c1"));
        }
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.isObject() ? n.toString() : n.asText()));
        return out;
    }
}
