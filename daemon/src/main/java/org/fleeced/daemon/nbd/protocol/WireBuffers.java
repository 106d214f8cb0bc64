package org.fleeced.daemon.nbd.protocol;

import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;

/** Hands a message assembled in a byte array to Vert.x without copying it (read replies reach 32 MiB). */
final class WireBuffers {
    private WireBuffers() {
    }

    static Buffer wrap(byte[] message) {
        return BufferInternal.buffer(Unpooled.wrappedBuffer(message));
    }
}
