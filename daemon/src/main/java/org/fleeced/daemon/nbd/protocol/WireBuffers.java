package org.fleeced.daemon.nbd.protocol;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;

/**
 * Gives the block layer the bytes of a received Vert.x buffer without copying them (write payloads
 * reach 32 MiB; read replies go the other way in {@link ReplyEncoder.DataMessage}).
 */
final class WireBuffers {
    private WireBuffers() {
    }

    /** A {@link ByteBuffer} over the bytes of {@code buffer}, sharing them, positioned at 0. */
    static ByteBuffer view(Buffer buffer) {
        return ((BufferInternal) buffer).getByteBuf().nioBuffer();
    }
}
