package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a monitoring system sees: the server-sent event stream of jobs, and /metrics. */
class EventsAndMetricsIT {
    /** How long an event may take to arrive on a loaded machine: a limit for a hang, not a speed. */
    private static final Duration PATIENCE = Duration.ofSeconds(60);
    @TempDir
    Path dir;

    @BeforeAll
    static void clients() {
        Tool.require("qemu-img", "qemu-io", "nbdcopy");
    }

    @Test
    void eventStreamTellsWhenJobsStartAndEnd() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir); EventStream stream = EventStream.open(daemon)) {
            assertTrue(stream.response().headers().firstValue("content-type").orElse("").startsWith("text/event-stream"),
                    stream.response().headers().toString());
            daemon.attachNewQcow2("vm1", 64 << 20);
            await("disk-attached").atMost(PATIENCE).until(() -> stream.has("disk-attached", null));

            String ok = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1")).get("id").asText();
            await("job-started").atMost(PATIENCE).until(() -> stream.has("job-started", ok));
            EventStream.Event started = stream.find("job-started", ok);
            assertEquals("vm1", started.data().at("/disks/0").asText(), started.toString());
            assertEquals("c1", started.data().get("checkpoint").asText(), started.toString());
            daemon.rest().finish(ok, "success");
            await("job-finished").atMost(PATIENCE).until(() -> stream.has("job-finished", ok));

            String bad = daemon.rest().startJob(RestClient.jobRequest("c2", "vm1")
                    .put("incrementalFrom", "c1")).get("id").asText();
            daemon.rest().finish(bad, "failure");
            await("job-failed").atMost(PATIENCE).until(() -> stream.has("job-failed", bad));
            assertEquals(List.of("disk-attached", "job-started", "job-finished", "job-started", "job-failed"),
                    stream.types(), "events in the order they happened");
        }
    }

    /**
     * A subscriber that lost its connection reconnects with {@code Last-Event-ID} and gets what it
     * missed, once, in order; the ids go on from there.
     */
    @Test
    void aReconnectWithLastEventIdReplaysWhatItMissed() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            EventStream first = EventStream.open(daemon);
            daemon.attachNewQcow2("vm1", 64 << 20);
            await("disk-attached").atMost(PATIENCE).until(() -> first.has("disk-attached", null));
            String seen = first.lastId();
            first.close();

            daemon.attachNewQcow2("vm2", 64 << 20);
            String job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm2")).get("id").asText();
            try (EventStream again = EventStream.open(daemon, seen)) {
                await("the missed job-started").atMost(PATIENCE).until(() -> again.has("job-started", job));
                daemon.rest().finish(job, "success");
                await("job-finished").atMost(PATIENCE).until(() -> again.has("job-finished", job));
                assertEquals(List.of("disk-attached", "job-started", "job-finished"), again.types(),
                        "vm2's attach, then the job: " + again.lines());
                List<Long> ids = again.lines().stream().filter(l -> l.startsWith("id: "))
                        .map(l -> Long.parseLong(l.substring(4))).toList();
                assertEquals(List.of(Long.parseLong(seen) + 1, Long.parseLong(seen) + 2, Long.parseLong(seen) + 3),
                        ids, "monotonic, from the one after the last seen");
            }
        }
    }

    /**
     * A real SIGTERM while a job runs: the subscribers get the shutdown event and the job's
     * job-failed (reason shutdown) before the daemon ends their streams, and the daemon exits 0.
     */
    @Test
    void aSigtermSendsShutdownAndTheJobsEndBeforeClosingTheStream() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", 64 << 20);
            String job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1")).get("id").asText();
            try (EventStream s = EventStream.open(daemon)) {
                assertEquals(0, daemon.stop(), daemon.log());
                await("the stream ends").atMost(PATIENCE)
                        .untilAsserted(() -> assertTrue(s.ended(), "the stream so far: " + s.lines()
                                + "\nthe daemon's log:\n" + daemon.log()));
                assertEquals(List.of("shutdown", "job-failed"), s.types(), s.lines().toString());
                EventStream.Event failed = s.find("job-failed", job);
                assertEquals("shutdown", failed.data().get("why").asText(), failed.toString());
                assertEquals("SIGTERM", s.events().getFirst().data().get("why").asText());
            }
        }
    }

    @Test
    void metricsHaveTheDocumentedNames() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.attachNewQcow2("vm1", 64 << 20);
            String active = daemon.nbdUri("vm1");
            NbdDriver.write(active, "-P 0x11 0 4M");
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1"));
            NbdDriver.write(active, "-P 0x22 0 1M");
            NbdDriver.copy(daemon.fleeceUri(job, "vm1"), dir.resolve("full.raw"));
            Map<String, Double> whileRunning = samples(daemon.rest().get("metrics").expect(200).body());
            assertEquals(16.0, whileRunning.get("fleeced_cbw_copies_total"), whileRunning.toString());
            assertEquals((double) (1 << 20), whileRunning.get("fleeced_temp_bytes"), whileRunning.toString());
            assertEquals(1.0, whileRunning.get("fleeced_jobs{state=\"running\"}"), whileRunning.toString());
            daemon.rest().finish(job.get("id").asText(), "success");

            RestClient.Reply reply = daemon.rest().get("metrics").expect(200);
            assertTrue(reply.contentType().startsWith("text/plain"), reply.toString());
            String text = reply.body();
            // the one name openapi.yaml documents, with its type
            assertTrue(text.contains("# TYPE fleeced_nbd_connections gauge\n"), text);
            Map<String, Double> samples = samples(text);
            assertTrue(samples.containsKey("fleeced_nbd_connections"), text);
            // and the families the daemon exports besides
            for (String family : List.of("fleeced_nbd_connections_total", "fleeced_nbd_bytes_in_total",
                    "fleeced_nbd_bytes_out_total", "fleeced_nbd_requests_total", "fleeced_disks", "fleeced_jobs",
                    "fleeced_cbw_copies_total", "fleeced_temp_bytes", "fleeced_cbw_delayed_writes_total",
                    "fleeced_cbw_delay_seconds_total", "fleeced_frozen_read_delayed_writes_total",
                    "fleeced_frozen_read_delay_seconds_total", "fleeced_job_read_limit_bytes_per_second",
                    "fleeced_job_guest_write_p99_seconds")) {
                assertTrue(text.contains("# TYPE " + family + " "), family + " missing:\n" + text);
            }
            assertEquals(1.0, samples.get("fleeced_disks"), text);
            assertEquals(1.0, samples.get("fleeced_jobs{state=\"finished\"}"), text);
            assertEquals(0.0, samples.get("fleeced_jobs{state=\"running\"}"), text);
            assertEquals(16.0, samples.get("fleeced_cbw_copies_total"),
                    "a counter does not go down when its job ends: 1 MiB overwritten under the job copied"
                            + " 16 clusters of 64 KiB:\n" + text);
            assertEquals(0.0, samples.get("fleeced_temp_bytes"), "no job, no temp image:\n" + text);
            assertTrue(samples.get("fleeced_nbd_requests_total{command=\"WRITE\"}") > 0, text);
            assertTrue(samples.get("fleeced_nbd_requests_total{command=\"READ\"}") > 0, text);
            assertTrue(samples.get("fleeced_nbd_bytes_out_total") >= 4 << 20, text);
        }
    }

    /** The samples of a Prometheus text exposition, by name with labels. */
    private static Map<String, Double> samples(String text) {
        Map<String, Double> samples = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (!line.isBlank() && !line.startsWith("#")) {
                int space = line.lastIndexOf(' ');
                samples.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
            }
        }
        return samples;
    }
}
