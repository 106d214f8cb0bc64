package org.fleeced.daemon.api;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The event stream over a real HTTP server and client: ids, replay after {@code Last-Event-ID}
 * from the bounded buffer (and the notice when it no longer holds what was missed), the
 * keep-alive comment, and the end of every stream at close after what was published before.
 */
class EventStreamTest {
    private static final int REPLAY = 4;

    private final Vertx vertx = Vertx.vertx();
    private final HttpClient http = HttpClient.newHttpClient();
    private final EventStream events = new EventStream(Duration.ofMillis(50), REPLAY);
    private final List<HttpResponse<Stream<String>>> open = new CopyOnWriteArrayList<>();
    private String base;

    @AfterEach
    void close() {
        open.forEach(r -> r.body().close());
        vertx.close().await();
    }

    private void serve() {
        Router router = Router.router(vertx);
        router.get("/events").handler(events::subscribe);
        HttpServer server = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1").await();
        base = "http://127.0.0.1:" + server.actualPort();
    }

    /** Subscribes (with a Last-Event-ID when given); the lines as they arrive, and a last line when the stream ends. */
    private List<String> subscribe(String lastEventId) throws Exception {
        int before = events.subscriberCount();
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + "/events"));
        if (lastEventId != null) {
            request.header("Last-Event-ID", lastEventId);
        }
        HttpResponse<Stream<String>> r = http.send(request.build(), HttpResponse.BodyHandlers.ofLines());
        open.add(r);
        List<String> lines = new CopyOnWriteArrayList<>();
        Thread.ofVirtual().start(() -> {
            try {
                r.body().forEach(lines::add);
                lines.add("<end>");
            } catch (UncheckedIOException e) {
                lines.add("<broken> " + e);
            }
        });
        await().until(() -> events.subscriberCount() > before || lines.contains("<end>"));
        return lines;
    }

    private static List<String> ids(List<String> lines) {
        return lines.stream().filter(l -> l.startsWith("id: ")).map(l -> l.substring(4)).toList();
    }

    @Test
    void idsAreMonotonicAndAReconnectWithLastEventIdGetsWhatItMissed() throws Exception {
        serve();
        List<String> first = subscribe(null);
        for (int i = 0; i < 3; i++) {
            events.publish("job-started", Map.of("job", "j" + i));
        }
        await().until(() -> ids(first).size() == 3);
        assertEquals(List.of("1", "2", "3"), ids(first));
        events.publish("job-finished", Map.of("job", "j0"));

        List<String> again = subscribe("2");
        await().until(() -> ids(again).size() == 2);
        assertEquals(List.of("3", "4"), ids(again), "the events after 2, from the buffer");
        assertTrue(again.stream().noneMatch(l -> l.contains("events-lost")), again.toString());
        events.publish("job-failed", Map.of("job", "j1"));
        await().until(() -> ids(again).size() == 3);
        assertEquals(List.of("3", "4", "5"), ids(again), "then the live ones, once each");
    }

    @Test
    void aLastEventIdOlderThanTheBufferGetsWhatIsThereAndIsToldSo() throws Exception {
        serve();
        for (int i = 0; i < REPLAY + 3; i++) {
            events.publish("disk-attached", Map.of("disk", "d" + i));
        }
        List<String> late = subscribe("1");
        await().until(() -> ids(late).size() == REPLAY);
        assertEquals(List.of("4", "5", "6", "7"), ids(late));
        int lost = late.indexOf("event: events-lost");
        assertTrue(lost >= 0 && lost < late.indexOf("id: 4"), "the notice comes first: " + late);
        assertTrue(late.get(lost + 1).contains("events 2 to 3 left the replay buffer"), late.get(lost + 1));

        List<String> foreign = subscribe("999");
        await().until(() -> ids(foreign).size() == REPLAY);
        assertTrue(foreign.stream().anyMatch(l -> l.contains("not an id this daemon gave")), foreign.toString());
    }

    @Test
    void aQuietStreamGetsKeepAliveComments() throws Exception {
        serve();
        List<String> lines = subscribe(null);
        await().until(() -> lines.stream().filter(": keep-alive"::equals).count() >= 3);
    }

    @Test
    void closeEndsEveryStreamAfterWhatWasPublishedBefore() throws Exception {
        serve();
        List<String> a = subscribe(null);
        List<String> b = subscribe(null);
        events.publish("shutdown", Map.of("why", "SIGTERM"));
        events.publish("job-failed", Map.of("job", "j1", "why", "shutdown"));
        events.close().await();
        for (List<String> lines : List.of(a, b)) {
            await().until(() -> lines.contains("<end>"));
            assertEquals(List.of("1", "2"), ids(lines), lines.toString());
            assertTrue(lines.indexOf("event: job-failed") < lines.indexOf("<end>"), lines.toString());
        }
        List<String> after = subscribe(null);
        await().until(() -> after.contains("<end>"));
        assertEquals(0, events.subscriberCount());
    }
}
