package org.fleeced.daemon.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import io.vertx.core.Future;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The server-sent-events stream of job and disk events ({@code GET /v1/events}): every
 * subscriber gets each event published after it connected, as {@code id}, {@code event} and one
 * JSON {@code data} line.
 *
 * <ul>
 *   <li><b>Ids</b> are monotonic for the life of the daemon (1, 2, 3...). The last
 *       {@link #DEFAULT_REPLAY_EVENTS} events stay in a bounded buffer: a subscriber that
 *       reconnects with {@code Last-Event-ID: N} first gets every buffered event after N. When
 *       events after N have already left the buffer, it gets what is there, preceded by an
 *       {@code events-lost} event that says which ids it missed (then it should list the current
 *       state).</li>
 *   <li><b>Keep-alive</b>: a comment line every {@code keepAlive} (15 s by default), so that
 *       proxies and clients do not take a quiet stream for a dead one.</li>
 *   <li><b>Slow subscribers</b>: one whose socket's write queue is full is dropped rather than
 *       buffered without bound; it reconnects with its last id.</li>
 *   <li><b>Shutdown</b>: {@link #close} ends every stream after what was published before it,
 *       so the {@code shutdown} and {@code job-failed} events of a stop reach the subscribers.</li>
 * </ul>
 *
 * <p>Thread-safe: the stream's monitor orders ids, the buffer, the subscriber list and the
 * writes, so that a subscriber never sees an event twice or out of order, also while it
 * subscribes during a publish.
 */
public final class EventStream {
    /** How many events a reconnecting subscriber can catch up on. */
    public static final int DEFAULT_REPLAY_EVENTS = 1024;
    public static final Duration DEFAULT_KEEP_ALIVE = Duration.ofSeconds(15);

    /** One published event: its id and the frame as sent. */
    private record Sent(long id, String frame) {
    }

    private final Duration keepAlive;
    private final int replayEvents;
    /** Guarded by this. */
    private final List<HttpServerResponse> subscribers = new ArrayList<>();
    /** The last {@link #replayEvents} events, oldest first. Guarded by this. */
    private final Deque<Sent> recent = new ArrayDeque<>();
    /** Guarded by this. */
    private long nextId = 1;
    /** Set by {@link #close}: later subscribers get an ended stream. Guarded by this. */
    private boolean closed;

    public EventStream() {
        this(DEFAULT_KEEP_ALIVE, DEFAULT_REPLAY_EVENTS);
    }

    public EventStream(Duration keepAlive, int replayEvents) {
        if (keepAlive.isZero() || keepAlive.isNegative() || replayEvents < 1) {
            throw new IllegalArgumentException("keep-alive " + keepAlive + ", replay " + replayEvents);
        }
        this.keepAlive = keepAlive;
        this.replayEvents = replayEvents;
    }

    /** The handler for the streamEvents operation. */
    public void subscribe(RoutingContext ctx) {
        HttpServerResponse response = ctx.response();
        response.setChunked(true)
                .putHeader("content-type", "text/event-stream")
                .putHeader("cache-control", "no-cache");
        String lastEventId = ctx.request().getHeader("Last-Event-ID");
        synchronized (this) {
            if (closed) {
                response.end(": fleeced events: the daemon is stopping\n\n");
                return;
            }
            response.write(": fleeced events\n\n");
            if (lastEventId != null) {
                replayLocked(response, lastEventId.strip());
            }
            subscribers.add(response);
        }
        long timer = ctx.vertx().setPeriodic(keepAlive.toMillis(), t -> keepAlive(response));
        response.closeHandler(v -> {
            ctx.vertx().cancelTimer(timer);
            unsubscribe(response);
        });
        response.endHandler(v -> ctx.vertx().cancelTimer(timer));
    }

    /** Sends an event to every subscriber and keeps it for those that reconnect; safe from any thread. */
    public void publish(String type, Map<String, ?> data) {
        String json;
        try {
            json = ApiRequest.JSON.writeValueAsString(data);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("event data must be plain data", e);
        }
        synchronized (this) {
            long id = nextId++;
            Sent sent = new Sent(id, "id: " + id + "\nevent: " + type + "\ndata: " + json + "\n\n");
            recent.addLast(sent);
            if (recent.size() > replayEvents) {
                recent.removeFirst();
            }
            for (HttpServerResponse r : new ArrayList<>(subscribers)) {
                if (r.writeQueueFull() || r.closed()) {
                    subscribers.remove(r);
                    if (!r.closed()) {
                        r.reset();
                    }
                    continue;
                }
                r.write(sent.frame());
            }
        }
    }

    /**
     * Ends every stream after the events published so far, and refuses new subscribers; the
     * future completes when every stream has been ended.
     */
    public Future<Void> close() {
        List<Future<Void>> ends = new ArrayList<>();
        synchronized (this) {
            closed = true;
            for (HttpServerResponse r : subscribers) {
                if (!r.closed() && !r.ended()) {
                    ends.add(r.end(": fleeced events: the daemon is stopping\n\n"));
                }
            }
            subscribers.clear();
        }
        return Future.join(ends).mapEmpty();
    }

    public synchronized int subscriberCount() {
        return subscribers.size();
    }

    /**
     * Writes the buffered events after {@code lastEventId}; when some after it left the buffer
     * (or the id is not one this daemon gave), says so first in an {@code events-lost} event.
     */
    private void replayLocked(HttpServerResponse response, String lastEventId) {
        long last;
        try {
            last = Long.parseLong(lastEventId);
        } catch (NumberFormatException e) {
            last = -1;
        }
        long oldest = recent.isEmpty() ? nextId : recent.peekFirst().id();
        if (last < 0 || last >= nextId || last + 1 < oldest) {
            Map<String, Object> lost = new LinkedHashMap<>();
            lost.put("lastEventId", lastEventId);
            lost.put("replayedFrom", oldest);
            lost.put("detail", last < 0 || last >= nextId
                    ? "Last-Event-ID is not an id this daemon gave (it may have restarted); list the current state"
                    : "events " + (last + 1) + " to " + (oldest - 1) + " left the replay buffer of "
                            + replayEvents + " events; list the current state");
            try {
                response.write("event: events-lost\ndata: " + ApiRequest.JSON.writeValueAsString(lost) + "\n\n");
            } catch (JsonProcessingException e) {
                throw new IllegalStateException("a map of strings and numbers is plain data", e);
            }
            last = last >= nextId ? -1 : last;
        }
        for (Sent sent : recent) {
            if (sent.id() > last) {
                response.write(sent.frame());
            }
        }
    }

    private synchronized void keepAlive(HttpServerResponse response) {
        if (subscribers.contains(response) && !response.writeQueueFull()) {
            response.write(": keep-alive\n\n");
        }
    }

    private synchronized void unsubscribe(HttpServerResponse response) {
        subscribers.remove(response);
    }
}
