package org.fleeced.daemon.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The server-sent-events stream of job and disk events ({@code GET /v1/events}): every
 * subscriber gets each event published after it connected, as {@code id}, {@code event} and one
 * JSON {@code data} line. A subscriber that cannot keep up (its socket's write queue is full) is
 * dropped rather than buffered without bound; it reconnects and lists the current state.
 */
public final class EventStream {
    private final CopyOnWriteArrayList<HttpServerResponse> subscribers = new CopyOnWriteArrayList<>();
    private final AtomicLong nextId = new AtomicLong(1);

    /** The handler for the streamEvents operation. */
    public void subscribe(RoutingContext ctx) {
        HttpServerResponse response = ctx.response();
        response.setChunked(true)
                .putHeader("content-type", "text/event-stream")
                .putHeader("cache-control", "no-cache");
        response.write(": fleeced events\n\n");
        subscribers.add(response);
        response.closeHandler(v -> subscribers.remove(response));
    }

    /** Sends an event to every subscriber; safe from any thread. */
    public void publish(String type, Map<String, ?> data) {
        String json;
        try {
            json = ApiRequest.JSON.writeValueAsString(data);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("event data must be plain data", e);
        }
        String frame = "id: " + nextId.getAndIncrement() + "\nevent: " + type + "\ndata: " + json + "\n\n";
        for (HttpServerResponse r : subscribers) {
            if (r.writeQueueFull() || r.closed()) {
                subscribers.remove(r);
                if (!r.closed()) {
                    r.reset();
                }
                continue;
            }
            r.write(frame);
        }
    }

    public int subscriberCount() {
        return subscribers.size();
    }
}
