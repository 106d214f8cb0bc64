package org.fleeced.daemon.nbd.server;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.net.NetSocketInternal;
import io.vertx.core.net.NetSocket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Logger;
import org.fleeced.block.FileSpan;
import org.fleeced.daemon.nbd.protocol.ReplyEncoder.DataMessage;

/**
 * The one writer of a socket. Every call sends one whole message (a simple reply with its data, or
 * one structured chunk) contiguously, so replies of requests that run concurrently never interleave
 * inside a message (NBD proto "Transmission"): one buffer is one write; a header followed by a file
 * span is two writes made under the writer's lock, and Vert.x keeps the order of writes. Callable
 * from any thread: Vert.x hands the writes to the socket's event loop.
 *
 * <p>Read replies are pooled memory ({@link DataMessage}) or file spans: each is freed when its
 * write completes, or when the connection closes first, since a write the closing socket dropped
 * may never report back (the NBD fuzzer found a reply whose future never completed that way). A
 * span left unreleased would keep a disk swap waiting forever.
 */
final class ReplyWriter {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.nbd");
    private final NetSocket socket;
    private final NbdServerStats stats;
    /** Orders the writes of a header and its span against every other message. */
    private final ReentrantLock order = new ReentrantLock();
    /** Frees of the read replies handed to the socket and not yet freed. */
    private final Set<Runnable> unwritten = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    ReplyWriter(NetSocket socket, NbdServerStats stats) {
        this.socket = socket;
        this.stats = stats;
    }

    Future<Void> send(Buffer message) {
        stats.bytesOut(message.length());
        order.lock();
        try {
            return socket.write(message);
        } finally {
            order.unlock();
        }
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
        return freedOnceWritten(written, message::release);
    }

    /**
     * Whether read data may go out as file spans: not through TLS, which must encrypt the bytes
     * in this process.
     */
    boolean takesFileSpans() {
        return !socket.isSsl();
    }

    /** Sends {@code header} and then the span's bytes from the file, which is released once sent. */
    Future<Void> send(Buffer header, FileSpan span) {
        Future<Void> written;
        stats.bytesOut(header.length() + (long) span.length());
        order.lock();
        try {
            socket.write(header);
            written = ((NetSocketInternal) socket).writeMessage(new FileSpanRegion(span));
        } catch (RuntimeException e) {
            span.release();
            throw e;
        } finally {
            order.unlock();
        }
        // Part of the reply may be out already: after a failure the stream cannot go on.
        written.onFailure(failure -> {
            LOG.warning("closing connection of " + socket.remoteAddress() + ": a read reply could not be sent from its file: "
                    + failure);
            socket.close();
        });
        return freedOnceWritten(written, span::release);
    }

    /**
     * The socket has closed (its close handler, on the event loop): nothing more is written, so
     * the replies still waiting are freed now.
     */
    void closed() {
        closed = true;
        unwritten.forEach(this::free);
    }

    private Future<Void> freedOnceWritten(Future<Void> written, Runnable release) {
        // only once the socket has it: until then no close may free it (the NBD fuzzer caught a
        // reply freed between the two)
        unwritten.add(release);
        if (closed) {
            free(release);
        }
        return written.andThen(done -> free(release));
    }

    private void free(Runnable release) {
        if (unwritten.remove(release)) {
            release.run();
        }
    }
}
