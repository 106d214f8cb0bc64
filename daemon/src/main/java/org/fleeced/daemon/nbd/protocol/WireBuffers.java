package org.fleeced.daemon.nbd.protocol;

import io.netty.buffer.Unpooled;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;

/**
 * Moves bytes between Vert.x buffers and the block layer's {@link ByteBuffer}s without copying them
 * (read replies and write payloads reach 32 MiB).
 */
final class WireBuffers {
    private WireBuffers() {
    }

    /** A {@link ByteBuffer} over the bytes of {@code buffer}, sharing them, positioned at 0. */
    static ByteBuffer view(Buffer buffer) {
        return ((BufferInternal) buffer).getByteBuf().nioBuffer();
    }

    static Buffer wrap(byte[] message) {
        return BufferInternal.buffer(Unpooled.wrappedBuffer(message));
    }
}
