package org.fleeced.daemon.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.vertx.core.buffer.Buffer;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * The data of one option or request payload, kept as the slices of the socket it arrived in
 * (Vert.x hands each read over as a fresh heap buffer, so keeping a view of one copies nothing).
 * Memory grows only with the bytes a client has actually sent, never with the length its header
 * announces.
 *
 * <p>{@link #writeBuffer()} gives the bytes as one buffer for a node write: the slice itself when
 * the payload came in one read (the common case for small writes: no copy at all), otherwise one
 * gather into pooled direct memory, the single copy the data makes on its way from the socket to
 * the node (a heap array would cost a second one, through the temporary direct buffer the file
 * write makes of it, allocated and zeroed afresh above 1 MiB); {@link #release()} frees it.
 * {@link #byteBuffer()} gathers into the heap, for payloads that are parsed. A view keeps its whole
 * socket read alive (at most one read, 64 KiB, beyond the bytes counted at each end of a payload),
 * which the budget does not count. Not thread-safe; handed from the event loop to one request
 * thread.
 */
public final class ReceivedBytes {
    private final List<Buffer> slices = new ArrayList<>(1);
    private int length;
    /** The gather {@link #writeBuffer} made, until {@link #release}. */
    private ByteBuf gathered;

    /** Keeps {@code [from, to)} of {@code slice} (a view, not a copy). */
    void append(Buffer slice, int from, int to) {
        if (to > from) {
            slices.add(slice.slice(from, to));
            length += to - from;
        }
    }

    public int length() {
        return length;
    }

    /** The bytes as one buffer positioned at 0: a view of the slice when there is one, else one gathered copy. */
    public ByteBuffer byteBuffer() {
        if (slices.size() == 1) {
            return WireBuffers.view(slices.getFirst());
        }
        ByteBuffer gathered = ByteBuffer.allocate(length);
        for (Buffer slice : slices) {
            gathered.put(WireBuffers.view(slice));
        }
        return gathered.flip();
    }

    /**
     * The bytes as one buffer positioned at 0, for a node write: a view of the slice when there is
     * one, else one gather into pooled direct memory, valid until {@link #release}.
     */
    public ByteBuffer writeBuffer() {
        if (slices.size() == 1) {
            return WireBuffers.view(slices.getFirst());
        }
        release();
        gathered = PooledByteBufAllocator.DEFAULT.directBuffer(length);
        for (Buffer slice : slices) {
            gathered.writeBytes(WireBuffers.view(slice));
        }
        return gathered.nioBuffer(0, length);
    }

    /** Frees what {@link #writeBuffer} gathered; the bytes stay readable from the slices. */
    public void release() {
        if (gathered != null) {
            gathered.release();
            gathered = null;
        }
    }

    /** A copy of the bytes (option data and small payloads that are parsed, not written). */
    public byte[] bytes() {
        byte[] copy = new byte[length];
        byteBuffer().get(copy);
        return copy;
    }
}
