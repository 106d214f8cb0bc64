package org.fleeced.daemon.nbd.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.internal.buffer.BufferInternal;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Encodes transmission replies: simple replies, structured reply chunks (compact 20-byte headers)
 * and, after NBD_OPT_EXTENDED_HEADERS, extended chunks (32-byte headers that echo the request
 * offset). Every method returns one whole message, so that a writer that sends each message in one
 * write never interleaves two replies (NBD proto "Transmission": chunks of different requests may
 * interleave, bytes of one chunk may not).
 */
public final class ReplyEncoder {
    public static final int SIMPLE_HEADER_BYTES = 16;
    public static final int COMPACT_CHUNK_HEADER_BYTES = 20;
    public static final int EXTENDED_CHUNK_HEADER_BYTES = 32;

    /** How a reply's chunks are framed: the request they answer and whether headers are extended. */
    public record Framing(long cookie, long requestOffset, boolean extended) {
        public int chunkHeaderBytes() {
            return extended ? EXTENDED_CHUNK_HEADER_BYTES : COMPACT_CHUNK_HEADER_BYTES;
        }
    }

    /**
     * A read reply message whose data region, {@code [dataStart, dataStart + dataLength)}, the caller
     * fills. Its bytes are pooled direct memory: the block layer reads straight into them and the
     * socket writes straight from them (a heap array costs a copy through a temporary direct buffer
     * on each side, and zeroing a new array per read). The holder frees it once it is written, or
     * will not be ({@link #release}, which only the first call does).
     */
    public static final class DataMessage {
        private final ByteBuf bytes;
        private final int dataStart;
        private final int dataLength;
        private final AtomicBoolean released = new AtomicBoolean();

        private DataMessage(ByteBuf bytes, int dataStart, int dataLength) {
            this.bytes = bytes;
            this.dataStart = dataStart;
            this.dataLength = dataLength;
        }

        private static DataMessage allocate(int headerBytes, int dataLength) {
            ByteBuf bytes = PooledByteBufAllocator.DEFAULT.directBuffer(headerBytes + dataLength);
            bytes.writerIndex(headerBytes + dataLength);
            return new DataMessage(bytes, headerBytes, dataLength);
        }

        private ByteBuffer header() {
            return bytes.nioBuffer(0, dataStart);
        }

        public ByteBuffer dataRegion() {
            return bytes.nioBuffer(dataStart, dataLength);
        }

        /** The whole message, to write once; Vert.x writes an unreleasable view, so {@link #release} frees it. */
        public Buffer buffer() {
            return BufferInternal.buffer(bytes);
        }

        /** Frees the bytes; later calls do nothing. */
        public void release() {
            if (released.compareAndSet(false, true)) {
                bytes.release();
            }
        }
    }

    /** One run of a block status reply: a length and its status bits. */
    public record StatusRun(long length, long status) {
    }

    private ReplyEncoder() {
    }

    /** A simple reply without data: the only form an error or a non-read success takes without structured replies. */
    public static Buffer simple(NbdError error, long cookie) {
        return Buffer.buffer(SIMPLE_HEADER_BYTES)
                .appendInt(NbdMagic.SIMPLE_REPLY_MAGIC.intValue())
                .appendInt(error == null ? 0 : error.code())
                .appendLong(cookie);
    }

    /** A successful simple read reply: the header followed by {@code length} bytes of data to fill. */
    public static DataMessage simpleRead(long cookie, int length) {
        DataMessage message = DataMessage.allocate(SIMPLE_HEADER_BYTES, length);
        message.header().putInt(NbdMagic.SIMPLE_REPLY_MAGIC.intValue()).putInt(0).putLong(cookie);
        return message;
    }

    /** NBD_REPLY_TYPE_NONE with DONE: success of a request that returns nothing. */
    public static Buffer none(Framing framing) {
        return chunk(framing, NbdReplyType.FLAG_DONE, NbdReplyType.NONE, Buffer.buffer());
    }

    /** NBD_REPLY_TYPE_OFFSET_DATA: u64 offset, then {@code length} data bytes to fill. */
    public static DataMessage offsetData(Framing framing, int flags, long offset, int length) {
        int headerBytes = framing.chunkHeaderBytes();
        DataMessage message = DataMessage.allocate(headerBytes + 8, length);
        ByteBuffer out = message.header();
        putChunkHeader(out, framing, flags, NbdReplyType.OFFSET_DATA, 8L + length);
        out.putLong(offset);
        return message;
    }

    /**
     * The header of an NBD_REPLY_TYPE_OFFSET_DATA chunk (chunk header and u64 offset) whose
     * {@code length} data bytes the writer sends right after it, from a file.
     */
    public static Buffer offsetDataHeader(Framing framing, int flags, long offset, int length) {
        byte[] header = new byte[framing.chunkHeaderBytes() + 8];
        ByteBuffer out = ByteBuffer.wrap(header);
        putChunkHeader(out, framing, flags, NbdReplyType.OFFSET_DATA, 8L + length);
        out.putLong(offset);
        return Buffer.buffer(header);
    }

    /** NBD_REPLY_TYPE_OFFSET_HOLE: u64 offset, u32 hole size (never 0). */
    public static Buffer offsetHole(Framing framing, int flags, long offset, int length) {
        return chunk(framing, flags, NbdReplyType.OFFSET_HOLE, Buffer.buffer(12).appendLong(offset).appendInt(length));
    }

    /** NBD_REPLY_TYPE_ERROR with DONE: u32 error, u16 message length, message. */
    public static Buffer error(Framing framing, NbdError error, String message) {
        byte[] text = OptionReplyEncoder.utf8Limited(message);
        Buffer payload = Buffer.buffer(6 + text.length).appendInt(error.code())
                .appendUnsignedShort(text.length).appendBytes(text);
        return chunk(framing, NbdReplyType.FLAG_DONE, NbdReplyType.ERROR, payload);
    }

    /** NBD_REPLY_TYPE_ERROR_OFFSET with DONE: as ERROR, followed by the u64 offset that failed. */
    public static Buffer errorOffset(Framing framing, NbdError error, String message, long offset) {
        byte[] text = OptionReplyEncoder.utf8Limited(message);
        Buffer payload = Buffer.buffer(14 + text.length).appendInt(error.code())
                .appendUnsignedShort(text.length).appendBytes(text).appendLong(offset);
        return chunk(framing, NbdReplyType.FLAG_DONE, NbdReplyType.ERROR_OFFSET, payload);
    }

    /**
     * NBD_REPLY_TYPE_BLOCK_STATUS (u32 context id, n x (u32 length, u32 status)) or, with extended
     * headers, NBD_REPLY_TYPE_BLOCK_STATUS_EXT (u32 id, u32 count, n x (u64 length, u64 status)).
     */
    public static Buffer blockStatus(Framing framing, int flags, int contextId, List<StatusRun> runs) {
        Buffer payload;
        if (framing.extended()) {
            payload = Buffer.buffer(8 + 16 * runs.size()).appendInt(contextId).appendInt(runs.size());
            for (StatusRun run : runs) {
                payload.appendLong(run.length()).appendLong(run.status());
            }
            return chunk(framing, flags, NbdReplyType.BLOCK_STATUS_EXT, payload);
        }
        payload = Buffer.buffer(4 + 8 * runs.size()).appendInt(contextId);
        for (StatusRun run : runs) {
            payload.appendInt((int) run.length()).appendInt((int) run.status());
        }
        return chunk(framing, flags, NbdReplyType.BLOCK_STATUS, payload);
    }

    private static Buffer chunk(Framing framing, int flags, NbdReplyType type, Buffer payload) {
        byte[] header = new byte[framing.chunkHeaderBytes()];
        putChunkHeader(ByteBuffer.wrap(header), framing, flags, type, payload.length());
        return Buffer.buffer(header.length + payload.length()).appendBytes(header).appendBuffer(payload);
    }

    private static void putChunkHeader(ByteBuffer out, Framing framing, int flags, NbdReplyType type, long payloadLength) {
        if (framing.extended()) {
            out.putInt(NbdMagic.EXTENDED_REPLY_MAGIC.intValue()).putShort((short) flags).putShort((short) type.code())
                    .putLong(framing.cookie()).putLong(framing.requestOffset()).putLong(payloadLength);
        } else {
            out.putInt(NbdMagic.STRUCTURED_REPLY_MAGIC.intValue()).putShort((short) flags).putShort((short) type.code())
                    .putLong(framing.cookie()).putInt((int) payloadLength);
        }
    }
}
