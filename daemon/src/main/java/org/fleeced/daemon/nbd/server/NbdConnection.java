package org.fleeced.daemon.nbd.server;

import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.logging.Logger;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdFrameDecoder;
import org.fleeced.daemon.nbd.protocol.NbdHandshakeFlag;
import org.fleeced.daemon.nbd.protocol.NbdRequest;
import org.fleeced.daemon.nbd.protocol.OptionReplyEncoder;
import org.fleeced.daemon.nbd.protocol.ReceivedBytes;
import org.fleeced.daemon.nbd.server.NbdExportRegistry.ExportConnection;

/**
 * One client socket, from the greeting to the close: it feeds the socket's bytes to the
 * {@link NbdFrameDecoder} and routes what comes out to the {@link HandshakeSession} during
 * haggling and to the {@link TransmissionSession} afterwards. It owns the handshake timer, the
 * STARTTLS upgrade, the registry attachment and the operator log lines of the connection.
 *
 * <p>Threads: the socket's event loop runs the decoder, the handshake and request dispatch; request
 * virtual threads only write replies (through {@link ReplyWriter}) and release budget.
 *
 * <p>Back-pressure, for two reasons, each with its own flag: the connection's {@link InFlightBudget}
 * is spent (the decoder pauses at once, on the event loop that is handling the request, and the
 * socket too; both resume when half of it is answered), or the server's {@link ServerInFlightBudget}
 * refused payload bytes (the decoder paused itself with the rest held; the socket pauses; both
 * resume when bytes are released). Reading resumes only when neither holds it, the decoder first
 * with the bytes it held.
 *
 * <p>Stalled clients: in transmission, a message (request header or payload) that stays incomplete
 * for {@code requestTimeout} while the server reads, with no message completed meanwhile, closes the
 * connection with one log line; the payload bytes it held are released. Time the server itself
 * spends not reading does not count.
 *
 * <p>Server shutdown ({@link #shutdown}): in haggling, the next option gets NBD_REP_ERR_SHUTDOWN
 * (NBD_OPT_ABORT still its ACK) and the connection closes once the reply has left (NBD proto
 * "Termination of the session during option haggling"); a client that sends nothing is closed when
 * the grace period ends. In transmission, it ends like NBD_CMD_DISC: no more requests are read,
 * the ones received (writes included) run and are answered, then the connection closes.
 */
final class NbdConnection implements NbdFrameDecoder.Listener, NbdFrameDecoder.PayloadAdmission, HandshakeChannel,
        ExportConnection {
    /** How long a shutdown waits for a connection's in-flight requests to be answered. */
    static final Duration UNANSWERED_CLOSE_AFTER = Duration.ofSeconds(10);
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.nbd");
    private static final int MAX_OPTION_BYTES = 64 << 10;

    private final ConnectionContext context;
    private final NetSocket socket;
    private final Context vertxContext;
    private final String peer;
    private final NbdFrameDecoder decoder;
    private final HandshakeSession handshake;
    private final ReplyWriter writer;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Consumer<NbdConnection> onClosed;
    private long handshakeTimer;
    /** Event loop only: the connection's in-flight budget is spent. */
    private boolean heldByConnectionBudget;
    /** Event loop only: the server's in-flight budget refused payload bytes and has not released since. */
    private boolean heldByServerBudget;
    /** Event loop only: payload bytes admitted for the request being decoded, not yet handed over. */
    private long partialPayloadBytes;
    /** Event loop only: the request-timeout check, and what it saw last. */
    private long stallTimer = -1;
    private long messagesSeen = -1;
    private long incompleteSinceNanos;
    /** Set on the event loop when haggling ends; read by close paths on any thread. */
    private volatile TransmissionSession transmission;
    /** Set by {@link #shutdown} on any thread; read on the event loop before each option. */
    private volatile boolean shuttingDown;

    NbdConnection(ConnectionContext context, NetSocket socket, Context vertxContext, Consumer<NbdConnection> onClosed) {
        this.context = context;
        this.onClosed = onClosed;
        this.socket = socket;
        this.vertxContext = vertxContext;
        this.peer = socket.remoteAddress() == null ? "unknown peer" : socket.remoteAddress().toString();
        this.decoder = new NbdFrameDecoder(this, this, MAX_OPTION_BYTES, BlockSizeConstraints.MAX_PAYLOAD_BYTES);
        this.handshake = new HandshakeSession(context.registry(), this, context.ssl() != null, context.config().tlsRequired());
        this.writer = new ReplyWriter(socket, context.stats());
    }

    /** On the event loop, right after accept. */
    void start() {
        context.stats().connectionOpened();
        LOG.fine(() -> "connection from " + peer);
        socket.handler(this::received);
        socket.closeHandler(v -> closed());
        socket.exceptionHandler(e -> LOG.fine(() -> "socket error from " + peer + ": " + e));
        handshakeTimer = context.vertx().setTimer(context.config().handshakeTimeout().toMillis(), id -> {
            if (transmission == null) {
                fail("handshake timed out after " + context.config().handshakeTimeout().toSeconds() + " s");
            }
        });
        writer.send(OptionReplyEncoder.greeting(NbdHandshakeFlag.FIXED_NEWSTYLE.mask() | NbdHandshakeFlag.NO_ZEROES.mask()));
    }

    private void received(Buffer slice) {
        context.stats().bytesIn(slice.length());
        decoder.feed(slice);
    }

    @Override
    public void onClientFlags(int flags) {
        handshake.onClientFlags(flags);
    }

    @Override
    public void onOption(int option, long length, byte[] data) {
        if (shuttingDown) {
            handshake.onOptionDuringShutdown(option);
            return;
        }
        handshake.onOption(option, data);
    }

    @Override
    public void onRequest(NbdRequest request, ReceivedBytes payload) {
        if (payload != null) {
            partialPayloadBytes = 0;
            context.inFlight().payloadEnded(this);
        }
        if (request.command() == NbdCommand.DISC) {
            decoder.stop();
        }
        transmission.onRequest(request, payload);
    }

    /** On the event loop, from the decoder: payload bytes as they arrive, within the server's budget. */
    @Override
    public int admit(int wanted) {
        int admitted = context.inFlight().admitPayload(this, wanted,
                () -> vertxContext.runOnContext(v -> serverBudgetReleased()));
        partialPayloadBytes += admitted;
        if (admitted < wanted) {
            heldByServerBudget = true;
            socket.pause();
        }
        return admitted;
    }

    @Override
    public void onFramingError(String reason) {
        fail(reason);
    }

    @Override
    public void send(Buffer message) {
        writer.send(message);
    }

    @Override
    public void sendThenClose(Buffer message) {
        decoder.stop();
        writer.send(message).onComplete(done -> socket.close());
    }

    @Override
    public void startTls(Buffer ack) {
        decoder.expectOption();
        context.stats().bytesOut(ack.length());
        socket.upgradeToSsl(context.ssl(), ack).onComplete(done -> {
            if (done.failed()) {
                fail("TLS handshake failed: " + done.cause().getMessage());
            }
        });
    }

    @Override
    public boolean enterTransmission(TransmissionParameters parameters, Buffer reply) {
        if (!context.registry().attach(parameters.export(), this)) {
            return false;
        }
        InFlightBudget budget = new InFlightBudget(context.config().maxInFlightBytes(), this::connectionBudgetSpent,
                () -> vertxContext.runOnContext(v -> connectionBudgetAnswered()));
        transmission = new TransmissionSession(parameters, writer, context.stats(), budget, context.inFlight(),
                this::closeGracefully);
        context.vertx().cancelTimer(handshakeTimer);
        long timeoutMillis = context.config().requestTimeout().toMillis();
        stallTimer = context.vertx().setPeriodic(Math.clamp(timeoutMillis / 4, 50, 1000), id -> checkStall());
        decoder.enterTransmission(parameters.extendedHeaders());
        writer.send(reply);
        LOG.info("peer " + peer + " opened export '" + parameters.export().name() + "'"
                + (socket.isSsl() ? " over TLS" : "")
                + (parameters.extendedHeaders() ? ", extended headers" : parameters.structuredReplies() ? ", structured replies" : "")
                + (parameters.contexts().isEmpty() ? "" : ", " + parameters.contexts().size() + " meta context(s)"));
        return true;
    }

    @Override
    public void fail(String reason) {
        if (transmission == null) {
            context.stats().handshakeFailed();
            LOG.warning("handshake with " + peer + " failed: " + reason);
        } else {
            LOG.warning("closing connection of " + peer + " to export '" + transmission.parameters().export().name()
                    + "': " + reason);
        }
        decoder.stop();
        socket.close();
    }

    @Override
    public void closeForExportRemoval() {
        vertxContext.runOnContext(v -> {
            decoder.stop();
            socket.close();
        });
    }

    private void closeGracefully() {
        vertxContext.runOnContext(v -> socket.close());
    }

    /** On the event loop, while a request is being dispatched: stop decoding and reading. */
    private void connectionBudgetSpent() {
        heldByConnectionBudget = true;
        decoder.pause();
        socket.pause();
    }

    private void connectionBudgetAnswered() {
        heldByConnectionBudget = false;
        resumeReading();
    }

    private void serverBudgetReleased() {
        heldByServerBudget = false;
        resumeReading();
    }

    /**
     * On the event loop, when neither budget holds the connection: decode what was held, then read
     * the socket again unless that spent a budget again.
     */
    private void resumeReading() {
        if (heldByConnectionBudget || heldByServerBudget || closed.get()) {
            return;
        }
        decoder.resume();
        if (!decoder.paused()) {
            socket.resume();
        }
    }

    /**
     * Periodic, on the event loop: a message incomplete since the last check, with none completed
     * meanwhile and the server reading all along, counts towards the request timeout.
     */
    private void checkStall() {
        long now = System.nanoTime();
        long decoded = decoder.messagesDecoded();
        if (heldByConnectionBudget || heldByServerBudget || !decoder.midMessage() || decoded != messagesSeen) {
            messagesSeen = decoded;
            incompleteSinceNanos = now;
            return;
        }
        Duration timeout = context.config().requestTimeout();
        if (now - incompleteSinceNanos >= timeout.toNanos()) {
            fail("request incomplete after " + timeout.toSeconds() + " s (nbd.requestTimeoutSeconds): the client stopped"
                    + " sending mid-request");
        }
    }

    /** Server shutdown, from any thread; see the class comment. {@code grace} bounds a silent haggling client. */
    void shutdown(Duration grace) {
        shuttingDown = true;
        vertxContext.runOnContext(v -> {
            TransmissionSession session = transmission;
            if (session != null) {
                decoder.stop();
                session.finishThenClose();
                // A client that stops reading its replies keeps them unanswered for ever: the
                // shutdown must not wait on it.
                context.vertx().setTimer(UNANSWERED_CLOSE_AFTER.toMillis(), id -> {
                    if (!closed.get()) {
                        LOG.warning("closing connection of " + peer + " to export '"
                                + session.parameters().export().name() + "': replies still unanswered "
                                + UNANSWERED_CLOSE_AFTER.toSeconds() + " s into the shutdown");
                        socket.close();
                    }
                });
                return;
            }
            context.vertx().setTimer(Math.max(1, grace.toMillis()), id -> {
                if (transmission == null && !closed.get()) {
                    LOG.info("closing connection of " + peer + " in option haggling: the server is shutting down");
                    decoder.stop();
                    socket.close();
                }
            });
        });
    }

    private void closed() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        decoder.stop();
        context.vertx().cancelTimer(handshakeTimer);
        context.vertx().cancelTimer(stallTimer);
        context.inFlight().release(partialPayloadBytes);
        partialPayloadBytes = 0;
        context.inFlight().payloadEnded(this);
        onClosed.accept(this);
        context.stats().connectionClosed();
        writer.closed();
        TransmissionSession session = transmission;
        if (session != null) {
            session.connectionClosed();
            context.registry().detach(session.parameters().export(), this);
            LOG.info("peer " + peer + " closed export '" + session.parameters().export().name() + "' after "
                    + session.requestCount() + " request(s)");
        } else {
            LOG.fine(() -> "connection from " + peer + " closed during the handshake");
        }
    }
}
