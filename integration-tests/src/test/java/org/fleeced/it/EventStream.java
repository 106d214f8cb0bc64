package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * An open {@code GET /v1/events} as a monitoring system holds it: the lines as they arrive (on a
 * thread of its own), {@link #END} once the server ended the stream, and the complete events
 * among them, parsed on demand. Tests wait for an event with Awaitility on {@link #has}.
 */
final class EventStream implements AutoCloseable {
    static final String END = "<the stream ended>";

    /** One server-sent event: its type and its JSON data. */
    record Event(String type, JsonNode data) {
    }

    private final HttpResponse<Stream<String>> response;
    private final List<String> lines = new CopyOnWriteArrayList<>();

    private EventStream(HttpResponse<Stream<String>> response) {
        this.response = response;
    }

    static EventStream open(DaemonUnderTest daemon) throws Exception {
        return open(daemon, null);
    }

    /** Subscribes; with {@code lastEventId}, as a subscriber reconnecting after that event. */
    static EventStream open(DaemonUnderTest daemon, String lastEventId) throws Exception {
        var request = daemon.rest().request("v1/events").timeout(Duration.ofMinutes(5)).GET();
        if (lastEventId != null) {
            request.header("Last-Event-ID", lastEventId);
        }
        HttpResponse<Stream<String>> r = daemon.rest().http().send(request.build(), HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        EventStream stream = new EventStream(r);
        Thread.ofVirtual().start(() -> {
            try {
                r.body().forEach(stream.lines::add);
                stream.lines.add(END);
            } catch (UncheckedIOException e) {
                stream.lines.add(": stream broken: " + e.getMessage());
            }
        });
        return stream;
    }

    HttpResponse<Stream<String>> response() {
        return response;
    }

    /** The lines so far. */
    List<String> lines() {
        return List.copyOf(lines);
    }

    boolean ended() {
        return lines.contains(END);
    }

    /** The id of the last event so far. */
    String lastId() {
        List<String> ids = lines.stream().filter(l -> l.startsWith("id: ")).toList();
        return ids.getLast().substring(4);
    }

    /** The complete events so far (an event ends with a blank line), in order. */
    List<Event> events() {
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

    /** The types of the events so far, in order. */
    List<String> types() {
        return events().stream().map(Event::type).toList();
    }

    /** The events of {@code type} so far (of job {@code job} when it is not null), in order. */
    List<Event> all(String type, String job) {
        return events().stream()
                .filter(e -> e.type().equals(type) && (job == null || job.equals(e.data().path("job").asText())))
                .toList();
    }

    /** The first event of {@code type} (of job {@code job} when it is not null), or null. */
    Event find(String type, String job) {
        List<Event> all = all(type, job);
        return all.isEmpty() ? null : all.getFirst();
    }

    boolean has(String type, String job) {
        return find(type, job) != null;
    }

    @Override
    public void close() {
        response.body().close();
    }
}
