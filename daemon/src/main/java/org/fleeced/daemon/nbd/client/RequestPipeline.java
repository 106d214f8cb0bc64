package org.fleeced.daemon.nbd.client;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.locks.ReentrantLock;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdError;
import org.fleeced.daemon.nbd.protocol.NbdMagic;
import org.fleeced.daemon.nbd.protocol.NbdReplyType;

/**
 * The transmission phase of one connection (NBD proto "Transmission"): requests from any number
 * of threads are in flight at once, each with its own handle, and one reader thread hands every
 * reply to the request its handle names, in whatever order the server answers.
 *
 * <h2>State</h2>
 * {@code pending} maps the handle of each request sent and not yet fully answered to what reads
 * its reply. A request is entered before its bytes are sent (its reply cannot overtake it) and
 * leaves when its last reply chunk (or its simple reply) has been read. The send lock keeps the
 * header and payload of one request together on the wire.
 *
 * <h2>Failure</h2>
 * A server error for one request fails that request only (structured error chunks are collected
 * until the chunk flagged DONE). Anything that leaves the stream in an unknown place (a read or
 * write failing, a reply that breaks the protocol, a waiter interrupted mid-request) breaks the
 * connection: the socket is closed and every pending and later request fails with the cause.
 */
final class RequestPipeline {
    /** Reads the payload of one structured reply chunk (not an error chunk) into the caller's result. */
    @FunctionalInterface
    interface ChunkHandler {
        void accept(int type, ByteBuffer payload) throws IOException;
    }

    /** For commands that return no data: a chunk with data is ignored. */
    static final ChunkHandler NO_CHUNKS = (type, payload) -> { };

    /** What a request expects back. {@code simpleData} is the data a simple reply carries (a READ without structured replies). */
    private static final class Pending {
        final String what;
        final ChunkHandler handler;
        final long maxChunk;
        final ByteBuffer simpleData;
        final CompletableFuture<Void> done = new CompletableFuture<>();
        /** The first server error of a structured reply; reported at DONE. Only the reader thread touches it. */
        BlockIOException error;

        Pending(String what, ChunkHandler handler, long maxChunk, ByteBuffer simpleData) {
            this.what = what;
            this.handler = handler;
            this.maxChunk = maxChunk;
            this.simpleData = simpleData;
        }
    }

    /** Error chunks carry a message; one longer than this is a broken server. */
    private static final int MAX_ERROR_CHUNK = 64 << 10;

    private final NbdSocket socket;
    private final boolean structured;
    private final String name;
    private final ReentrantLock sendLock = new ReentrantLock();
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    /** Guarded by sendLock. */
    private long nextHandle = 1;
    /** Why the connection is unusable, once it is; set once. */
    private volatile BlockIOException broken;
    private volatile boolean closing;

    RequestPipeline(NbdSocket socket, boolean structured, String name) {
        this.socket = socket;
        this.structured = structured;
        this.name = name;
        Thread.ofVirtual().name("nbd-client-replies " + name).start(this::readReplies);
    }

    /**
     * Sends one request and waits for its whole reply. {@code payload} (a WRITE's data) may be
     * null; {@code simpleData} receives a READ's data when replies are simple; {@code handler}
     * reads structured chunks of at most {@code maxChunk} bytes.
     */
    void call(NbdCommand command, int commandFlags, long offset, int length, ByteBuffer payload, String what,
            ChunkHandler handler, long maxChunk, ByteBuffer simpleData) throws BlockIOException {
        Pending p = new Pending(what, handler, maxChunk, simpleData);
        send(command, commandFlags, offset, length, payload, p);
        try {
            p.done.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof BlockIOException b) {
                throw new BlockIOException(b.errno(), b.getMessage(), b);
            }
            throw new BlockIOException(Errno.EIO, name + ": " + what + " failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            BlockIOException cause = new BlockIOException(Errno.EIO, name + ": " + what + " was interrupted", e);
            breakWith(cause);
            throw cause;
        }
    }

    private void send(NbdCommand command, int commandFlags, long offset, int length, ByteBuffer payload, Pending p)
            throws BlockIOException {
        sendLock.lock();
        try {
            check();
            long handle = nextHandle++;
            pending.put(handle, p);
            ByteBuffer request = ByteBuffer.allocate(28);
            request.putInt(NbdMagic.REQUEST_MAGIC.intValue()).putShort((short) commandFlags)
                    .putShort((short) command.code()).putLong(handle).putLong(offset).putInt(length).flip();
            if (payload == null) {
                socket.write(request);
            } else {
                socket.write(request, payload);
            }
        } catch (IOException e) {
            throw breakWith(lost(e));
        } finally {
            sendLock.unlock();
        }
    }

    private void check() throws BlockIOException {
        BlockIOException b = broken;
        if (b != null) {
            throw new BlockIOException(b.errno(), b.getMessage(), b);
        }
    }

    /** Sends NBD_CMD_DISC (no reply) unless the connection is broken, then closes it. */
    void close() {
        sendLock.lock();
        try {
            closing = true;
            if (broken == null) {
                ByteBuffer request = ByteBuffer.allocate(28);
                request.putInt(NbdMagic.REQUEST_MAGIC.intValue()).putShort((short) 0)
                        .putShort((short) NbdCommand.DISC.code()).putLong(0).putLong(0).putInt(0).flip();
                socket.write(request);
            }
        } catch (IOException e) {
            // the server went first; closing is all that is left
        } finally {
            sendLock.unlock();
            breakWith(new BlockIOException(Errno.ESHUTDOWN, name + ": the connection is closed"));
        }
    }

    private void readReplies() {
        try {
            while (true) {
                int magic = socket.readExactly(4).getInt();
                if (magic == NbdMagic.SIMPLE_REPLY_MAGIC.intValue()) {
                    simpleReply();
                } else if (magic == NbdMagic.STRUCTURED_REPLY_MAGIC.intValue()) {
                    structuredChunk();
                } else {
                    throw new IOException("a reply with magic " + Integer.toHexString(magic));
                }
            }
        } catch (IOException e) {
            breakWith(closing ? new BlockIOException(Errno.ESHUTDOWN, name + ": the connection is closed") : lost(e));
        }
    }

    /**
     * A simple reply (16 bytes with the magic) may answer any command that returns no data, also
     * with structured replies negotiated; with simple replies only, a READ's data follows it.
     */
    private void simpleReply() throws IOException {
        ByteBuffer head = socket.readExactly(12);
        int error = head.getInt();
        Pending p = pending.remove(head.getLong());
        if (p == null) {
            throw new IOException("a reply to no request in flight");
        }
        if (error != 0) {
            p.done.completeExceptionally(serverError(error, p.what + " failed"));
            return;
        }
        if (p.simpleData != null && !structured) {
            socket.readFully(p.simpleData);
        }
        p.done.complete(null);
    }

    private void structuredChunk() throws IOException {
        ByteBuffer head = socket.readExactly(16);
        int flags = head.getShort() & 0xffff;
        int type = head.getShort() & 0xffff;
        long handle = head.getLong();
        long length = head.getInt() & 0xffffffffL;
        Pending p = pending.get(handle);
        boolean error = type == NbdReplyType.ERROR.code() || type == NbdReplyType.ERROR_OFFSET.code();
        if (p == null || length > (error ? MAX_ERROR_CHUNK : p.maxChunk)) {
            throw new IOException("an unexpected reply chunk (handle " + handle + ", " + length + " bytes)");
        }
        ByteBuffer payload = socket.readExactly((int) length);
        if (error) {
            if (payload.remaining() < 4) {
                throw new IOException("an error chunk without an error");
            }
            int code = payload.getInt();
            int messageLength = payload.remaining() >= 2 ? payload.getShort() & 0xffff : 0;
            String message = StandardCharsets.UTF_8.decode(payload.slice(payload.position(),
                    Math.min(messageLength, payload.remaining()))).toString();
            if (p.error == null) {
                p.error = serverError(code, p.what + " failed: " + message);
            }
        } else if (type != NbdReplyType.NONE.code() && p.error == null) {
            p.handler.accept(type, payload);
        }
        if ((flags & NbdReplyType.FLAG_DONE) != 0) {
            pending.remove(handle);
            if (p.error != null) {
                p.done.completeExceptionally(p.error);
            } else {
                p.done.complete(null);
            }
        }
    }

    /** Marks the connection broken (the first cause wins), closes it and fails every pending request. */
    private BlockIOException breakWith(BlockIOException cause) {
        synchronized (this) {
            if (broken == null) {
                broken = cause;
            }
        }
        socket.close();
        for (Long handle : pending.keySet()) {
            Pending p = pending.remove(handle);
            if (p != null) {
                p.done.completeExceptionally(broken);
            }
        }
        return broken;
    }

    private BlockIOException lost(IOException e) {
        return new BlockIOException(Errno.EIO, "the NBD connection to " + name + " failed: " + e.getMessage(), e);
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
}
