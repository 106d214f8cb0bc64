package org.fleeced.daemon.nbd.client;

import java.io.EOFException;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Capabilities;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;
import org.fleeced.daemon.nbd.protocol.NbdClientFlag;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdError;
import org.fleeced.daemon.nbd.protocol.NbdHandshakeFlag;
import org.fleeced.daemon.nbd.protocol.NbdInfo;
import org.fleeced.daemon.nbd.protocol.NbdMagic;
import org.fleeced.daemon.nbd.protocol.NbdOption;
import org.fleeced.daemon.nbd.protocol.NbdOptionReply;
import org.fleeced.daemon.nbd.protocol.NbdReplyType;
import org.fleeced.daemon.nbd.protocol.NbdTransmissionFlag;

/**
 * An NBD export as a {@link BlockNode}: one connection, one request at a time (a lock serializes
 * them; callers hash, or read the next piece, while another request is on the wire). It writes
 * when the server did not flag the export read-only: write, writeZeroes (WRITE_ZEROES when the
 * server offers it, else zero buffers), discard (TRIM when offered, else nothing) and flush
 * (FLUSH when offered), as the transmission flags say.
 *
 * <p>Handshake (NBD proto "Fixed newstyle negotiation"): the server must offer fixed newstyle;
 * the client asks for structured replies and, when they are granted, the {@code base:allocation}
 * context, then {@code NBD_OPT_GO} with a request for block size constraints. Without structured
 * replies or the context, block status reports everything as data (correct, only slower for a
 * checksum). Every length a server announces is checked against what was asked before anything
 * is allocated for it.
 */
public final class NbdClientNode implements BlockNode {
    private static final String BASE_ALLOCATION = "base:allocation";
    private static final int STATE_HOLE = 1;
    private static final int STATE_ZERO = 2;
    /** Option replies beyond this are refused: nothing this client asks for is longer. */
    private static final int MAX_OPTION_REPLY = 64 << 10;
    /** A block status, write zeroes or trim covers at most this much at once (a u32 length on the wire). */
    private static final long MAX_LENGTH_BYTES = 1L << 30;

    private final SocketChannel channel;
    private final String name;
    private final ReentrantLock lock = new ReentrantLock();
    private long sizeBytes;
    private boolean structured;
    /** The context id of base:allocation, or -1 when the server did not grant it. */
    private int allocationContext = -1;
    private int minBlock = 1;
    private int preferredBlock = 4096;
    private int maxRequest = Capabilities.DEFAULT_MAX_REQUEST_BYTES;
    /** The export's transmission flags (NBD proto "Transmission flags"). */
    private int transmissionFlags = NbdTransmissionFlag.READ_ONLY.mask();
    /** Guarded by lock. */
    private long nextHandle = 1;

    private NbdClientNode(SocketChannel channel, String name) {
        this.channel = channel;
        this.name = name;
    }

    /** Connects and negotiates; EIO names what the server refused. */
    public static NbdClientNode connect(NbdUri uri) throws BlockIOException {
        SocketChannel channel;
        try {
            channel = uri.address() instanceof UnixDomainSocketAddress
                    ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
            channel.connect(uri.address());
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot connect to " + uri.address() + ": " + e.getMessage(), e);
        }
        NbdClientNode node = new NbdClientNode(channel, uri.address() + "/" + uri.exportName());
        try {
            node.negotiate(uri.exportName());
            return node;
        } catch (IOException e) {
            node.closeQuietly();
            throw new BlockIOException(Errno.EIO, "NBD handshake with " + node.name + " failed: " + e.getMessage(), e);
        } catch (BlockIOException | RuntimeException e) {
            node.closeQuietly();
            throw e;
        }
    }

    private void negotiate(String export) throws IOException, BlockIOException {
        ByteBuffer greeting = readExactly(18);
        if (greeting.getLong() != NbdMagic.NBDMAGIC.value() || greeting.getLong() != NbdMagic.IHAVEOPT.value()) {
            throw new IOException("not a newstyle NBD server");
        }
        int serverFlags = greeting.getShort() & 0xffff;
        if ((serverFlags & NbdHandshakeFlag.FIXED_NEWSTYLE.mask()) == 0) {
            throw new IOException("the server does not offer fixed newstyle negotiation");
        }
        int clientFlags = NbdClientFlag.C_FIXED_NEWSTYLE.mask()
                | (serverFlags & NbdHandshakeFlag.NO_ZEROES.mask()) ;
        writeFully(ByteBuffer.allocate(4).putInt(clientFlags).flip());

        sendOption(NbdOption.STRUCTURED_REPLY, new byte[0]);
        structured = readOptionReply(NbdOption.STRUCTURED_REPLY).type == NbdOptionReply.ACK.code();
        if (structured) {
            byte[] exportBytes = export.getBytes(StandardCharsets.UTF_8);
            byte[] query = BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
            ByteBuffer data = ByteBuffer.allocate(4 + exportBytes.length + 4 + 4 + query.length);
            data.putInt(exportBytes.length).put(exportBytes).putInt(1).putInt(query.length).put(query);
            sendOption(NbdOption.SET_META_CONTEXT, data.array());
            for (OptionReply r = readOptionReply(NbdOption.SET_META_CONTEXT); r.type != NbdOptionReply.ACK.code();
                    r = readOptionReply(NbdOption.SET_META_CONTEXT)) {
                if (r.type == NbdOptionReply.META_CONTEXT.code() && r.data.remaining() >= 4) {
                    int id = r.data.getInt();
                    if (StandardCharsets.UTF_8.decode(r.data).toString().equals(BASE_ALLOCATION)) {
                        allocationContext = id;
                    }
                } else if (r.type < 0) {
                    break;
                }
            }
        }
        byte[] exportBytes = export.getBytes(StandardCharsets.UTF_8);
        ByteBuffer go = ByteBuffer.allocate(4 + exportBytes.length + 2 + 2);
        go.putInt(exportBytes.length).put(exportBytes).putShort((short) 1).putShort((short) NbdInfo.BLOCK_SIZE.code());
        sendOption(NbdOption.GO, go.array());
        boolean haveSize = false;
        for (OptionReply r = readOptionReply(NbdOption.GO); r.type != NbdOptionReply.ACK.code();
                r = readOptionReply(NbdOption.GO)) {
            if (r.type < 0) {
                throw new BlockIOException(Errno.EIO, "the server refused export '" + export + "' (reply type "
                        + Integer.toHexString(r.type) + "): " + StandardCharsets.UTF_8.decode(r.data));
            }
            if (r.type == NbdOptionReply.INFO.code() && r.data.remaining() >= 2) {
                int info = r.data.getShort() & 0xffff;
                if (info == NbdInfo.EXPORT.code() && r.data.remaining() >= 10) {
                    sizeBytes = r.data.getLong();
                    transmissionFlags = r.data.getShort() & 0xffff;
                    haveSize = true;
                } else if (info == NbdInfo.BLOCK_SIZE.code() && r.data.remaining() >= 12) {
                    int min = r.data.getInt();
                    int preferred = r.data.getInt();
                    int max = r.data.getInt();
                    if (Integer.bitCount(min) == 1 && Integer.bitCount(preferred) == 1 && min <= preferred
                            && max >= preferred) {
                        minBlock = min;
                        preferredBlock = preferred;
                        maxRequest = Math.min(max, Capabilities.DEFAULT_MAX_REQUEST_BYTES);
                    }
                }
            }
        }
        if (!haveSize || sizeBytes < 0) {
            throw new IOException("the server sent no export size");
        }
        preferredBlock = Math.max(preferredBlock, minBlock);
        maxRequest = Math.max(maxRequest, preferredBlock);
    }

    private record OptionReply(int type, ByteBuffer data) {
    }

    private void sendOption(NbdOption option, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16 + data.length);
        b.putLong(NbdMagic.IHAVEOPT.value()).putInt(option.code()).putInt(data.length).put(data);
        writeFully(b.flip());
    }

    private OptionReply readOptionReply(NbdOption option) throws IOException {
        ByteBuffer head = readExactly(20);
        if (head.getLong() != NbdMagic.REP_MAGIC.value() || head.getInt() != option.code()) {
            throw new IOException("a malformed reply to " + option);
        }
        int type = head.getInt();
        int length = head.getInt();
        if (length < 0 || length > MAX_OPTION_REPLY) {
            throw new IOException("a reply to " + option + " of " + Integer.toUnsignedString(length) + " bytes");
        }
        return new OptionReply(type, readExactly(length));
    }

    @Override
    public long size() {
        return sizeBytes;
    }

    @Override
    public Capabilities capabilities() {
        boolean write = !has(NbdTransmissionFlag.READ_ONLY);
        return new Capabilities(write, write && has(NbdTransmissionFlag.SEND_WRITE_ZEROES), false,
                write && has(NbdTransmissionFlag.SEND_TRIM), has(NbdTransmissionFlag.SEND_FLUSH),
                write && has(NbdTransmissionFlag.SEND_FUA), minBlock, preferredBlock, maxRequest);
    }

    private boolean has(NbdTransmissionFlag flag) {
        return (transmissionFlags & flag.mask()) != 0;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        int length = dst.remaining();
        if (length == 0) {
            return;
        }
        int start = dst.position();
        lock.lock();
        try {
            long handle = send(NbdCommand.READ, offset, length);
            if (!structured) {
                readSimpleReply(handle, "read");
                ByteBuffer data = readExactly(length);
                dst.put(data);
                return;
            }
            readChunks(handle, "read", (type, payload) -> {
                long at = payload.getLong();
                if (at < offset) {
                    throw new IOException("a read chunk before the request");
                }
                if (type == NbdReplyType.OFFSET_DATA.code()) {
                    if (at + payload.remaining() > offset + length) {
                        throw new IOException("a read chunk past the request");
                    }
                    dst.put(start + (int) (at - offset), payload, payload.position(), payload.remaining());
                } else if (type == NbdReplyType.OFFSET_HOLE.code()) {
                    int hole = payload.getInt();
                    if (hole < 0 || at + hole > offset + length) {
                        throw new IOException("a hole chunk past the request");
                    }
                    dst.put(start + (int) (at - offset), new byte[hole]);
                }
            }, length + 64L);
            dst.position(start + length);
        } catch (IOException e) {
            throw lost(e);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        long asked = Math.min(length, MAX_LENGTH_BYTES);
        if (allocationContext < 0) {
            return List.of(new Extent(offset, asked, true, false, 1));
        }
        List<Extent> out = new ArrayList<>();
        lock.lock();
        try {
            long handle = send(NbdCommand.BLOCK_STATUS, offset, (int) asked);
            readChunks(handle, "block status", (type, payload) -> {
                if (type != NbdReplyType.BLOCK_STATUS.code() || payload.getInt() != allocationContext || !out.isEmpty()) {
                    return;
                }
                long pos = offset;
                while (payload.remaining() >= 8 && pos < offset + asked) {
                    long len = Math.min(payload.getInt() & 0xffffffffL, offset + asked - pos);
                    int flags = payload.getInt();
                    if (len == 0) {
                        throw new IOException("an empty extent");
                    }
                    boolean hole = (flags & STATE_HOLE) != 0;
                    out.add(new Extent(pos, len, !hole, (flags & STATE_ZERO) != 0, hole ? 0 : 1));
                    pos += len;
                }
            }, 1 << 20);
        } catch (IOException e) {
            throw lost(e);
        } finally {
            lock.unlock();
        }
        if (out.isEmpty()) {
            return List.of(new Extent(offset, asked, true, false, 1));
        }
        return out;
    }

    @FunctionalInterface
    private interface ChunkHandler {
        void accept(int type, ByteBuffer payload) throws IOException;
    }

    /** Reads structured reply chunks of {@code handle} up to the one flagged DONE. */
    private void readChunks(long handle, String what, ChunkHandler handler, long maxChunk)
            throws IOException, BlockIOException {
        while (true) {
            // a simple reply (16 bytes) may answer any command that returns no data, also with
            // structured replies negotiated: read the magic first, then the rest of its header
            int magic = readExactly(4).getInt();
            if (magic == NbdMagic.SIMPLE_REPLY_MAGIC.intValue()) {
                ByteBuffer simple = ByteBuffer.allocate(16).putInt(magic).put(readExactly(12)).flip();
                checkSimple(simple, handle, what);
                return;
            }
            if (magic != NbdMagic.STRUCTURED_REPLY_MAGIC.intValue()) {
                throw new IOException("a reply with magic " + Integer.toHexString(magic));
            }
            ByteBuffer head = ByteBuffer.allocate(20).putInt(magic).put(readExactly(16)).flip();
            head.getInt();
            int flags = head.getShort() & 0xffff;
            int type = head.getShort() & 0xffff;
            long replyHandle = head.getLong();
            long length = head.getInt() & 0xffffffffL;
            if (replyHandle != handle || length > maxChunk) {
                throw new IOException("an unexpected reply chunk (handle " + replyHandle + ", " + length + " bytes)");
            }
            ByteBuffer payload = readExactly((int) length);
            if (type == NbdReplyType.ERROR.code() || type == NbdReplyType.ERROR_OFFSET.code()) {
                int error = payload.getInt();
                int messageLength = payload.remaining() >= 2 ? payload.getShort() & 0xffff : 0;
                String message = StandardCharsets.UTF_8.decode(payload.slice(payload.position(),
                        Math.min(messageLength, payload.remaining()))).toString();
                throw serverError(error, what + " failed: " + message);
            }
            if (type != NbdReplyType.NONE.code()) {
                handler.accept(type, payload);
            }
            if ((flags & NbdReplyType.FLAG_DONE) != 0) {
                return;
            }
        }
    }

    private void readSimpleReply(long handle, String what) throws IOException, BlockIOException {
        checkSimple(readExactly(16), handle, what);
    }

    private void checkSimple(ByteBuffer head, long handle, String what) throws IOException, BlockIOException {
        if (head.getInt() != NbdMagic.SIMPLE_REPLY_MAGIC.intValue()) {
            throw new IOException("a reply without the simple magic");
        }
        int error = head.getInt();
        if (head.getLong() != handle) {
            throw new IOException("a reply to another request");
        }
        if (error != 0) {
            throw serverError(error, what + " failed");
        }
    }

    private long send(NbdCommand command, long offset, int length) throws IOException {
        return send(command, 0, offset, length);
    }

    private long send(NbdCommand command, int commandFlags, long offset, int length) throws IOException {
        long handle = nextHandle++;
        ByteBuffer request = ByteBuffer.allocate(28);
        request.putInt(NbdMagic.REQUEST_MAGIC.intValue()).putShort((short) commandFlags).putShort((short) command.code())
                .putLong(handle).putLong(offset).putInt(length);
        writeFully(request.flip());
        return handle;
    }

    private BlockIOException serverError(int code, String message) {
        NbdError error = NbdError.lookup(code);
        Errno errno = error == null ? Errno.EIO : switch (error) {
            case EPERM -> message.contains("EACCES:") ? Errno.EACCES : Errno.EPERM;
            case ENOSPC -> Errno.ENOSPC;
            case ESHUTDOWN -> Errno.ESHUTDOWN;
            case EINVAL -> Errno.EINVAL;
            default -> Errno.EIO;
        };
        return new BlockIOException(errno, name + ": " + message + " (NBD error " + (error == null ? code : error) + ")");
    }

    private BlockIOException lost(IOException e) {
        closeQuietly();
        return new BlockIOException(Errno.EIO, "the NBD connection to " + name + " failed: " + e.getMessage(), e);
    }

    private ByteBuffer readExactly(int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (channel.read(b) < 0) {
                throw new EOFException("the server closed the connection");
            }
        }
        return b.flip();
    }

    private void writeFully(ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        requireWritable();
        int length = src.remaining();
        if (length == 0) {
            return;
        }
        lock.lock();
        try {
            long handle = send(NbdCommand.WRITE, fuaFlag(flags), offset, length);
            writeFully(src);
            readChunks(handle, "write", (type, payload) -> { }, 64);
        } catch (IOException e) {
            throw lost(e);
        } finally {
            lock.unlock();
        }
    }

    /**
     * WRITE_ZEROES in requests of at most 1 GiB (a u32 on the wire), NO_HOLE unless MAY_UNMAP; a
     * server without it gets zero buffers.
     */
    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        requireWritable();
        if (!has(NbdTransmissionFlag.SEND_WRITE_ZEROES)) {
            ByteBuffer zeroes = ByteBuffer.allocate((int) Math.min(length, maxRequest));
            for (long pos = offset; pos < offset + length; pos += zeroes.limit()) {
                zeroes.clear().limit((int) Math.min(zeroes.capacity(), offset + length - pos));
                write(pos, zeroes, flags);
            }
            return;
        }
        int commandFlags = fuaFlag(flags) | (flags.contains(WriteFlag.MAY_UNMAP) ? 0 : NbdCommandFlag.NO_HOLE.mask());
        lock.lock();
        try {
            for (long pos = offset; pos < offset + length; ) {
                int piece = (int) Math.min(MAX_LENGTH_BYTES, offset + length - pos);
                long handle = send(NbdCommand.WRITE_ZEROES, commandFlags, pos, piece);
                readChunks(handle, "write zeroes", (type, payload) -> { }, 64);
                pos += piece;
            }
        } catch (IOException e) {
            throw lost(e);
        } finally {
            lock.unlock();
        }
    }

    /** TRIM when the server offers it; otherwise a discard (a hint) does nothing. */
    @Override
    public void discard(long offset, long length) throws BlockIOException {
        requireWritable();
        if (!has(NbdTransmissionFlag.SEND_TRIM)) {
            return;
        }
        lock.lock();
        try {
            for (long pos = offset; pos < offset + length; ) {
                int piece = (int) Math.min(MAX_LENGTH_BYTES, offset + length - pos);
                long handle = send(NbdCommand.TRIM, 0, pos, piece);
                readChunks(handle, "trim", (type, payload) -> { }, 64);
                pos += piece;
            }
        } catch (IOException e) {
            throw lost(e);
        } finally {
            lock.unlock();
        }
    }

    /** FLUSH when the server offers it (a server that does not has nothing to make durable). */
    @Override
    public void flush() throws BlockIOException {
        if (!has(NbdTransmissionFlag.SEND_FLUSH)) {
            return;
        }
        lock.lock();
        try {
            long handle = send(NbdCommand.FLUSH, 0, 0, 0);
            readChunks(handle, "flush", (type, payload) -> { }, 64);
        } catch (IOException e) {
            throw lost(e);
        } finally {
            lock.unlock();
        }
    }

    private void requireWritable() throws BlockIOException {
        if (has(NbdTransmissionFlag.READ_ONLY)) {
            throw new BlockIOException(Errno.EROFS, name + " is a read-only export");
        }
    }

    private int fuaFlag(Set<WriteFlag> flags) {
        return flags.contains(WriteFlag.FUA) && has(NbdTransmissionFlag.SEND_FUA) ? NbdCommandFlag.FUA.mask() : 0;
    }

    @Override
    public String describe() {
        return "nbd(" + name + ")";
    }

    /** Sends NBD_CMD_DISC and closes the socket. */
    @Override
    public void close() {
        lock.lock();
        try {
            if (channel.isOpen()) {
                send(NbdCommand.DISC, 0, 0);
            }
        } catch (IOException e) {
            // the server went first; closing is all that is left
        } finally {
            lock.unlock();
            closeQuietly();
        }
    }

    private void closeQuietly() {
        try {
            channel.close();
        } catch (IOException e) {
            // already gone
        }
    }
}
