package org.fleeced.daemon.nbd.server;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.net.NetSocket;

/**
 * The one writer of a socket. Every call sends one whole message (a simple reply with its data, or
 * one structured chunk) as one buffer, and a single write of one buffer reaches the socket
 * contiguously, so replies of requests that run concurrently never interleave inside a message
 * (NBD proto "Transmission"). Callable from any thread: Vert.x hands the write to the socket's
 * event loop.
 */
final class ReplyWriter {
    private final NetSocket socket;
    private final NbdServerStats stats;

    ReplyWriter(NetSocket socket, NbdServerStats stats) {
        this.socket = socket;
        this.stats = stats;
    }

    Future<Void> send(Buffer message) {
        stats.bytesOut(message.length());
        return socket.write(message);
    }
}
