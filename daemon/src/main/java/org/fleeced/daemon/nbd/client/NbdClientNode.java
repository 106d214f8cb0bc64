package org.fleeced.daemon.nbd.client;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Capabilities;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdReplyType;
import org.fleeced.daemon.nbd.protocol.NbdTransmissionFlag;

/**
 * An NBD export as a {@link BlockNode}, over one connection ({@link NbdSocket}, plain or TLS)
 * negotiated by {@link NbdClientHandshake}. Calls from several threads are in flight at once
 * ({@link RequestPipeline}: each request has its own handle), so a push with several copies in
 * flight keeps the server busy instead of waiting a round trip per request. It writes when the
 * server did not flag the export read-only: write, writeZeroes (WRITE_ZEROES when the server
 * offers it, else zero buffers), discard (TRIM when offered, else nothing) and flush (FLUSH when
 * offered), as the transmission flags say. Without structured replies or the
 * {@code base:allocation} context, block status reports everything as data.
 */
public final class NbdClientNode implements BlockNode {
    private static final int STATE_HOLE = 1;
    private static final int STATE_ZERO = 2;
    /** A block status, write zeroes or trim covers at most this much at once (a u32 length on the wire). */
    private static final long MAX_LENGTH_BYTES = 1L << 30;
    /** Replies to commands that return no data: an empty chunk at most. */
    private static final long NO_DATA = 64;

    private final String name;
    private final NbdClientHandshake.Session session;
    private final RequestPipeline pipeline;

    private NbdClientNode(String name, NbdClientHandshake.Session session) {
        this.name = name;
        this.session = session;
        this.pipeline = new RequestPipeline(session.socket(), session.structured(), name);
    }

    /** Connects in plain text ({@code nbd://}, {@code nbd+unix://}); an {@code nbds://} URI is refused. */
    public static NbdClientNode connect(NbdUri uri) throws BlockIOException {
        return connect(uri, null);
    }

    /**
     * Connects and negotiates, with TLS checked by {@code tls} for an {@code nbds://} URI (EINVAL
     * when it is null); EIO names what failed or what the server refused.
     */
    public static NbdClientNode connect(NbdUri uri, NbdClientTls tls) throws BlockIOException {
        String name = uri.text();
        NbdSocket socket;
        try {
            socket = NbdSocket.connect(uri);
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot connect to " + uri.address() + ": " + e.getMessage(), e);
        }
        try {
            return new NbdClientNode(name, NbdClientHandshake.negotiate(socket, uri, tls, name));
        } catch (IOException e) {
            socket.close();
            throw new BlockIOException(Errno.EIO, "NBD handshake with " + name + " failed: " + e.getMessage(), e);
        } catch (BlockIOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    @Override
    public long size() {
        return session.sizeBytes();
    }

    @Override
    public Capabilities capabilities() {
        boolean write = !has(NbdTransmissionFlag.READ_ONLY);
        return new Capabilities(write, write && has(NbdTransmissionFlag.SEND_WRITE_ZEROES), false,
                write && has(NbdTransmissionFlag.SEND_TRIM), has(NbdTransmissionFlag.SEND_FLUSH),
                write && has(NbdTransmissionFlag.SEND_FUA), session.minBlock(), session.preferredBlock(),
                session.maxRequest());
    }

    private boolean has(NbdTransmissionFlag flag) {
        return session.has(flag);
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        int length = dst.remaining();
        if (length == 0) {
            return;
        }
        int start = dst.position();
        ByteBuffer simple = dst.slice(start, length);
        pipeline.call(NbdCommand.READ, 0, offset, length, null, "read", (type, payload) -> {
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
        }, length + 64L, simple);
        dst.position(start + length);
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        long asked = Math.min(length, MAX_LENGTH_BYTES);
        int context = session.allocationContext();
        if (context < 0) {
            return List.of(new Extent(offset, asked, true, false, 1));
        }
        List<Extent> out = new ArrayList<>();
        pipeline.call(NbdCommand.BLOCK_STATUS, 0, offset, (int) asked, null, "block status", (type, payload) -> {
            if (type != NbdReplyType.BLOCK_STATUS.code() || payload.getInt() != context || !out.isEmpty()) {
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
        }, 1 << 20, null);
        if (out.isEmpty()) {
            return List.of(new Extent(offset, asked, true, false, 1));
        }
        return out;
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        requireWritable();
        int length = src.remaining();
        if (length == 0) {
            return;
        }
        pipeline.call(NbdCommand.WRITE, fuaFlag(flags), offset, length, src, "write", RequestPipeline.NO_CHUNKS, NO_DATA,
                null);
    }
    /**
     * WRITE_ZEROES in requests of at most 1 GiB (a u32 on the wire), NO_HOLE unless MAY_UNMAP; a
     * server without it gets zero buffers.
     */
    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        requireWritable();
        if (!has(NbdTransmissionFlag.SEND_WRITE_ZEROES)) {
            ByteBuffer zeroes = ByteBuffer.allocate((int) Math.min(length, session.maxRequest()));
            for (long pos = offset; pos < offset + length; pos += zeroes.limit()) {
                zeroes.clear().limit((int) Math.min(zeroes.capacity(), offset + length - pos));
                write(pos, zeroes, flags);
            }
            return;
        }
        int commandFlags = fuaFlag(flags) | (flags.contains(WriteFlag.MAY_UNMAP) ? 0 : NbdCommandFlag.NO_HOLE.mask());
        inPieces(NbdCommand.WRITE_ZEROES, commandFlags, offset, length, "write zeroes");
    }

    /** TRIM when the server offers it; otherwise a discard (a hint) does nothing. */
    @Override
    public void discard(long offset, long length) throws BlockIOException {
        requireWritable();
        if (!has(NbdTransmissionFlag.SEND_TRIM)) {
            return;
        }
        inPieces(NbdCommand.TRIM, 0, offset, length, "trim");
    }

    /** A WRITE_ZEROES or TRIM of any length, in requests of at most 1 GiB (a u32 on the wire). */
    private void inPieces(NbdCommand command, int commandFlags, long offset, long length, String what)
            throws BlockIOException {
        for (long pos = offset; pos < offset + length; ) {
            int piece = (int) Math.min(MAX_LENGTH_BYTES, offset + length - pos);
            pipeline.call(command, commandFlags, pos, piece, null, what, RequestPipeline.NO_CHUNKS, NO_DATA, null);
            pos += piece;
        }
    }

    /** FLUSH when the server offers it (a server that does not has nothing to make durable). */
    @Override
    public void flush() throws BlockIOException {
        if (!has(NbdTransmissionFlag.SEND_FLUSH)) {
            return;
        }
        pipeline.call(NbdCommand.FLUSH, 0, 0, 0, null, "flush", RequestPipeline.NO_CHUNKS, NO_DATA, null);
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

    /** Sends NBD_CMD_DISC and closes the socket; requests still in flight fail with ESHUTDOWN. */
    @Override
    public void close() {
        pipeline.close();
    }
}
