package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
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

    /** One server-sent event: its type and its JSON data. */
    record Event(String type, JsonNode data) {
    }

    @Test
    void eventStreamTellsWhenJobsStartAndEnd() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            List<String> lines = new CopyOnWriteArrayList<>();
            HttpResponse<Stream<String>> stream = daemon.rest().http().send(
                    daemon.rest().request("v1/events").timeout(Duration.ofMinutes(5)).GET().build(),
                    HttpResponse.BodyHandlers.ofLines());
            try {
                assertEquals(200, stream.statusCode());
                assertTrue(stream.headers().firstValue("content-type").orElse("").startsWith("text/event-stream"),
                        stream.headers().toString());
                Thread.ofVirtual().start(() -> {
                    try {
                        stream.body().forEach(lines::add);
                    } catch (UncheckedIOException e) {
                        lines.add(": stream closed: " + e.getMessage());
                    }
                });
                daemon.attachNewQcow2("vm1", 64 << 20);
                await("disk-attached").atMost(PATIENCE).until(() -> has(lines, "disk-attached", null));

                String ok = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1")).get("id").asText();
                await("job-started").atMost(PATIENCE).until(() -> has(lines, "job-started", ok));
                Event started = find(lines, "job-started", ok);
                assertEquals("vm1", started.data().at("/disks/0").asText(), started.toString());
                assertEquals("c1", started.data().get("checkpoint").asText(), started.toString());
                daemon.rest().finish(ok, "success");
                await("job-finished").atMost(PATIENCE).until(() -> has(lines, "job-finished", ok));

                String bad = daemon.rest().startJob(RestClient.jobRequest("c2", "vm1")
                        .put("incrementalFrom", "c1")).get("id").asText();
                daemon.rest().finish(bad, "failure");
                await("job-failed").atMost(PATIENCE).until(() -> has(lines, "job-failed", bad));
                List<String> order = events(lines).stream().map(Event::type).toList();
                assertEquals(List.of("disk-attached", "job-started", "job-finished", "job-started", "job-failed"),
                        order, "events in the order they happened");
            } finally {
                stream.body().close();
            }
        }
    }

    /**
     * A subscriber that lost its connection reconnects with {@code Last-Event-ID} and gets what it
     * missed, once, in order; the ids go on from there.
     */
    @Test
    void aReconnectWithLastEventIdReplaysWhatItMissed() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            Subscription first = Subscription.open(daemon, null);
            daemon.attachNewQcow2("vm1", 64 << 20);
            await("disk-attached").atMost(PATIENCE).until(() -> has(first.lines, "disk-attached", null));
            String seen = first.lastId();
            first.close();

            daemon.attachNewQcow2("vm2", 64 << 20);
            String job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm2")).get("id").asText();
            Subscription again = Subscription.open(daemon, seen);
            try {
                await("the missed job-started").atMost(PATIENCE).until(() -> has(again.lines, "job-started", job));
                daemon.rest().finish(job, "success");
                await("job-finished").atMost(PATIENCE).until(() -> has(again.lines, "job-finished", job));
                assertEquals(List.of("disk-attached", "job-started", "job-finished"),
                        events(again.lines).stream().map(Event::type).toList(), "vm2's attach, then the job: "
                                + again.lines);
                List<Long> ids = again.lines.stream().filter(l -> l.startsWith("id: "))
                        .map(l -> Long.parseLong(l.substring(4))).toList();
                assertEquals(List.of(Long.parseLong(seen) + 1, Long.parseLong(seen) + 2, Long.parseLong(seen) + 3),
                        ids, "monotonic, from the one after the last seen");
            } finally {
                again.close();
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
            Subscription s = Subscription.open(daemon, null);
            try {
                assertEquals(0, daemon.stop(), daemon.log());
                await("the stream ends").atMost(PATIENCE).until(() -> s.lines.contains(Subscription.END));
                List<String> types = events(s.lines).stream().map(Event::type).toList();
                assertEquals(List.of("shutdown", "job-failed"), types, s.lines.toString());
                Event failed = find(s.lines, "job-failed", job);
                assertEquals("shutdown", failed.data().get("why").asText(), failed.toString());
                assertEquals("SIGTERM", events(s.lines).getFirst().data().get("why").asText());
            } finally {
                s.close();
            }
        }
    }

    /** An open {@code GET /v1/events}: its lines as they arrive, and {@link #END} once the server ended it. */
    private record Subscription(HttpResponse<Stream<String>> response, List<String> lines) {
        static final String END = "<the stream ended>";

        static Subscription open(DaemonUnderTest daemon, String lastEventId) throws Exception {
            var request = daemon.rest().request("v1/events").timeout(Duration.ofMinutes(5)).GET();
            if (lastEventId != null) {
                request.header("Last-Event-ID", lastEventId);
            }
            HttpResponse<Stream<String>> r = daemon.rest().http().send(request.build(),
                    HttpResponse.BodyHandlers.ofLines());
            assertEquals(200, r.statusCode());
            List<String> lines = new CopyOnWriteArrayList<>();
            Thread.ofVirtual().start(() -> {
                try {
                    r.body().forEach(lines::add);
                    lines.add(END);
                } catch (UncheckedIOException e) {
                    lines.add(": stream broken: " + e.getMessage());
                }
            });
            return new Subscription(r, lines);
        }

        String lastId() {
            List<String> ids = lines.stream().filter(l -> l.startsWith("id: ")).toList();
            return ids.getLast().substring(4);
        }

        void close() {
            response.body().close();
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

    private static boolean has(List<String> lines, String type, String job) {
        return find(lines, type, job) != null;
    }

    private static Event find(List<String> lines, String type, String job) {
        return events(lines).stream()
                .filter(e -> e.type().equals(type) && (job == null || job.equals(e.data().path("job").asText())))
                .findFirst().orElse(null);
    }

    /** The complete events among the lines so far (an event ends with a blank line). */
    private static List<Event> events(List<String> lines) {
        List<Event> events = new ArrayList<>();
        String type = null;
        String data = null;
        for (String line : List.copyOf(lines)) {
            if (line.startsWith("event:")) {
                type = line.substring(6).trim();
            } else if (line.startsWith("data:")) {
                data = line.substring(5).trim();
            } else if (line.isEmpty() && type != null) {
                try {
                    events.add(new Event(type, RestClient.JSON.readTree(data)));
                } catch (IOException e) {
                    throw new AssertionError("event " + type + " has no JSON data: " + data, e);
                }
                type = null;
                data = null;
            }
        }
        return events;
    }
}
