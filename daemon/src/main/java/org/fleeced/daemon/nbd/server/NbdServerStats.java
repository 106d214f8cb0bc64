package org.fleeced.daemon.nbd.server;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.fleeced.daemon.nbd.protocol.NbdCommand;

/** Counters of one NBD server for /metrics. Thread-safe; every value only grows except {@link #activeConnections()}. */
public final class NbdServerStats {
    private final LongAdder connectionsAccepted = new LongAdder();
    private final LongAdder connectionsRefused = new LongAdder();
    private final LongAdder activeConnections = new LongAdder();
    private final LongAdder handshakeFailures = new LongAdder();
    private final LongAdder errorReplies = new LongAdder();
    private final LongAdder bytesIn = new LongAdder();
    private final LongAdder bytesOut = new LongAdder();
    private final Map<NbdCommand, LongAdder> requests = new EnumMap<>(NbdCommand.class);

    public NbdServerStats() {
        for (NbdCommand command : NbdCommand.values()) {
            requests.put(command, new LongAdder());
        }
    }

    void connectionOpened() {
        connectionsAccepted.increment();
        activeConnections.increment();
    }

    void connectionClosed() {
        activeConnections.decrement();
    }

    void connectionRefused() {
        connectionsRefused.increment();
    }

    void handshakeFailed() {
        handshakeFailures.increment();
    }

    void request(NbdCommand command) {
        if (command != null) {
            requests.get(command).increment();
        }
    }

    void errorReply() {
        errorReplies.increment();
    }

    void bytesIn(long bytes) {
        bytesIn.add(bytes);
    }

    void bytesOut(long bytes) {
        bytesOut.add(bytes);
    }

    public long connectionsAccepted() {
        return connectionsAccepted.sum();
    }

    /** Connections refused because the connection limit was reached. */
    public long connectionsRefused() {
        return connectionsRefused.sum();
    }

    public long activeConnections() {
        return activeConnections.sum();
    }

    public long handshakeFailures() {
        return handshakeFailures.sum();
    }

    public long errorReplies() {
        return errorReplies.sum();
    }

    /** Bytes received on all sockets (after TLS decryption). */
    public long bytesIn() {
        return bytesIn.sum();
    }

    /** Bytes of NBD messages sent on all sockets (before TLS encryption). */
    public long bytesOut() {
        return bytesOut.sum();
    }

    public long requests(NbdCommand command) {
        return requests.get(command).sum();
    }
}
