package org.fleeced.daemon.nbd.server;

import io.vertx.core.Future;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdRequest;
import org.fleeced.daemon.nbd.protocol.ReceivedBytes;
import org.fleeced.daemon.nbd.server.RequestVerdict.Accepted;
import org.fleeced.daemon.nbd.server.RequestVerdict.Rejected;

/**
 * The transmission phase of one connection. Requests arrive whole from the decoder on the event
 * loop; each is validated there once, charged to the connection's {@link InFlightBudget}, and run
 * on its own virtual thread, so requests run concurrently and their replies complete in any order.
 * Its payload is already charged to the server's {@link ServerInFlightBudget} (admitted as it
 * arrived); a READ acquires its reply data there, on its thread, before reading. Both budgets are
 * released when the last reply message has left.
 * A rejected request is answered at once (a rejected WRITE's payload was already consumed by the
 * decoder, which keeps the stream in sync).
 *
 * <p>NBD_CMD_DISC: the decoder stops reading; requests already received (writes included) run to
 * the end and their replies are sent; then the connection closes (NBD proto "NBD_CMD_DISC": the
 * server MUST handle all outstanding requests). Server shutdown ends the session the same way
 * ({@link #finishThenClose()}).
 */
final class TransmissionSession {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.nbd");
    private final TransmissionParameters parameters;
    private final RequestValidator validator;
    private final ReplyWriter writer;
    private final NbdServerStats stats;
    private final InFlightBudget budget;
    private final ServerInFlightBudget serverBudget;
    private final Runnable close;
    /** Requests received and not yet fully answered. */
    private final AtomicInteger outstanding = new AtomicInteger();
    private final AtomicLong requestCount = new AtomicLong();
    private volatile boolean disconnecting;
    /** Requests whose work is done and whose last reply has not reported back. */
    private final Set<Charge> unanswered = ConcurrentHashMap.newKeySet();
    /** Set once, when the connection has closed. */
    private volatile boolean socketClosed;

    TransmissionSession(TransmissionParameters parameters, ReplyWriter writer, NbdServerStats stats,
                        InFlightBudget budget, ServerInFlightBudget serverBudget, Runnable close) {
        this.parameters = parameters;
        this.validator = new RequestValidator(parameters);
        this.writer = writer;
        this.stats = stats;
        this.budget = budget;
        this.serverBudget = serverBudget;
        this.close = close;
    }

    TransmissionParameters parameters() {
        return parameters;
    }

    long requestCount() {
        return requestCount.get();
    }

    /** On the event loop, for each request the decoder completed. */
    void onRequest(NbdRequest request, ReceivedBytes payload) {
        requestCount.incrementAndGet();
        stats.request(request.command());
        long payloadBytes = payload == null ? 0 : payload.length();
        if (request.command() == NbdCommand.DISC) {
            serverBudget.release(payloadBytes);
            disconnecting = true;
            if (outstanding.get() == 0) {
                close.run();
            }
            return;
        }
        RequestReplier replier = new RequestReplier(writer, request, parameters, stats);
        RequestVerdict verdict = validator.validate(request, payload);
        if (verdict instanceof Rejected rejected) {
            outstanding.incrementAndGet();
            awaitReply(new Charge(0, payloadBytes), replier.error(rejected.error(), rejected.message()));
            return;
        }
        Accepted accepted = (Accepted) verdict;
        long readBytes = request.command() == NbdCommand.READ ? accepted.length() : 0;
        long cost = InFlightBudget.REQUEST_OVERHEAD_BYTES + readBytes + payloadBytes;
        outstanding.incrementAndGet();
        budget.acquire(cost);
        Thread.ofVirtual().name("nbd-request").start(() -> {
            serverBudget.acquireRead(readBytes);
            Future<Void> last;
            try {
                last = CommandRunner.run(replier, parameters.export().node(), accepted, payload);
            } catch (Error e) {
                // CommandRunner answers every exception; an Error (an assertion, a stack overflow) leaves the
                // request unanswered, so the connection cannot go on, but its budget must not leak
                LOG.log(Level.SEVERE, "request " + request.describe() + " failed; closing the connection", e);
                last = Future.failedFuture(e);
                close.run();
            }
            awaitReply(new Charge(cost, payloadBytes + readBytes), last);
        });
    }

    /**
     * The connection closed (on the event loop): the budgets of requests whose work is done are
     * released now, since a reply written to a closed socket may never report back (found by the
     * NBD fuzzer: a WRITE answered just as a framing error closed the connection kept its payload
     * charged to the server budget for good); requests still running release when they return.
     */
    void connectionClosed() {
        socketClosed = true;
        List.copyOf(unanswered).forEach(this::release);
    }

    /** The request's work is done; its budgets are released when its last reply has left, or at close. */
    private void awaitReply(Charge charge, Future<Void> lastReply) {
        unanswered.add(charge);
        lastReply.onComplete(done -> release(charge));
        if (socketClosed) {
            release(charge);
        }
    }

    private void release(Charge charge) {
        if (charge.released.compareAndSet(false, true)) {
            unanswered.remove(charge);
            finished(charge.cost, charge.serverBytes);
        }
    }

    /** What one request holds of the connection's budget ({@code cost}) and of the server's. */
    private record Charge(long cost, long serverBytes, AtomicBoolean released) {
        Charge(long cost, long serverBytes) {
            this(cost, serverBytes, new AtomicBoolean());
        }
    }

    /**
     * Server shutdown, on the event loop after the decoder was stopped: the requests already
     * received run and are answered, then the connection closes, as after NBD_CMD_DISC.
     */
    void finishThenClose() {
        disconnecting = true;
        if (outstanding.get() == 0) {
            close.run();
        }
    }

    private void finished(long cost, long serverBytes) {
        budget.release(cost);
        serverBudget.release(serverBytes);
        if (outstanding.decrementAndGet() == 0 && disconnecting) {
            close.run();
        }
    }
}
