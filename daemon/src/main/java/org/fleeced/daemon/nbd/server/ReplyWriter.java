package org.fleeced.daemon.nbd.server;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.fleeced.daemon.nbd.protocol.ReplyEncoder.DataMessage;

/**
 * The one writer of a socket. Every call sends one whole message (a simple reply with its data, or
 * one structured chunk) as one buffer, and a single write of one buffer reaches the socket
 * contiguously, so replies of requests that run concurrently never interleave inside a message
 * (NBD proto "Transmission"). Callable from any thread: Vert.x hands the write to the socket's
 * event loop.
 *
 * <p>Read replies are pooled memory ({@link DataMessage}): each is freed when its write completes,
 * or when the connection closes first, since a write the closing socket dropped may never report
 * back (the NBD fuzzer found a reply whose future never completed that way).
 */
final class ReplyWriter {
    private final NetSocket socket;
    private final NbdServerStats stats;
    /** Read replies handed to the socket and not yet freed. */
    private final Set<DataMessage> unwritten = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    ReplyWriter(NetSocket socket, NbdServerStats stats) {
        this.socket = socket;
        this.stats = stats;
    }

    Future<Void> send(Buffer message) {
        stats.bytesOut(message.length());
        return socket.write(message);
    }

    /** Sends a read reply and frees it once written, or once the connection has closed. */
    Future<Void> send(DataMessage message) {
        Future<Void> written;
        try {
            written = send(message.buffer());
        } catch (RuntimeException e) {
            message.release();
            throw e;
        }
        // only once the socket has it: until then no close may free it (the NBD fuzzer caught a
        // reply freed between the two)
        unwritten.add(message);
        if (closed) {
            free(message);
        }
        return written.andThen(done -> free(message));
    }

    /**
     * The socket has closed (its close handler, on the event loop): nothing more is written, so
     * the replies still waiting are freed now.
     */
    void closed() {
        closed = true;
        unwritten.forEach(this::free);
    }

    private void free(DataMessage message) {
        unwritten.remove(message);
        message.release();
    }
}
