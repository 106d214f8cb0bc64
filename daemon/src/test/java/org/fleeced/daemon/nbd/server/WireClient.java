package org.fleeced.daemon.nbd.server;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.daemon.nbd.protocol.NbdMagic;
import org.fleeced.daemon.nbd.protocol.NbdOption;
import org.fleeced.daemon.nbd.protocol.NbdOptionReply;

/**
 * A deliberately dumb NBD client for tests: it sends exactly the bytes it is told to, including
 * the misuses real clients refuse to send, and decodes the server's answers field by field.
 */
final class WireClient implements AutoCloseable {
    record OptionReply(int option, int type, byte[] data) {
        boolean is(NbdOptionReply reply) {
            return type == reply.code();
        }
    }

    /** A simple reply (type -1) or one structured/extended chunk. */
    record Reply(boolean simple, int error, int flags, int type, long cookie, byte[] payload) {
        boolean done() {
            return simple || (flags & 1) != 0;
        }

        int chunkError() {
            return ByteBuffer.wrap(payload).getInt();
        }

        String chunkMessage() {
            int length = ByteBuffer.wrap(payload).getShort(4) & 0xffff;
            return new String(payload, 6, length, StandardCharsets.UTF_8);
        }
    }

    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private boolean extended;
    int transmissionFlags;
    long exportSize;

    WireClient(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(20_000);
        in = new DataInputStream(socket.getInputStream());
        out = new DataOutputStream(socket.getOutputStream());
    }

    /** Reads the greeting and answers with FIXED_NEWSTYLE | NO_ZEROES. */
    WireClient greet() throws IOException {
        if (in.readLong() != NbdMagic.NBDMAGIC.value() || in.readLong() != NbdMagic.IHAVEOPT.value()) {
            throw new IOException("bad greeting");
        }
        in.readUnsignedShort();
        out.writeInt(3);
        return this;
    }

    void option(NbdOption option, byte[] data) throws IOException {
        option(option.code(), data);
    }

    void option(int code, byte[] data) throws IOException {
        out.writeLong(NbdMagic.IHAVEOPT.value());
        out.writeInt(code);
        out.writeInt(data.length);
        out.write(data);
        out.flush();
    }

    OptionReply optionReply() throws IOException {
        if (in.readLong() != NbdMagic.REP_MAGIC.value()) {
            throw new IOException("bad option reply magic");
        }
        int option = in.readInt();
        int type = in.readInt();
        byte[] data = new byte[in.readInt()];
        in.readFully(data);
        return new OptionReply(option, type, data);
    }

    /** Replies up to and including the final one (ACK or an error). */
    List<OptionReply> optionReplies() throws IOException {
        List<OptionReply> replies = new ArrayList<>();
        OptionReply reply;
        do {
            reply = optionReply();
            replies.add(reply);
        } while (reply.type() != NbdOptionReply.ACK.code() && reply.type() > 0);
        return replies;
    }

    static byte[] infoRequest(String name, int... infos) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(4 + n.length + 2 + 2 * infos.length);
        b.putInt(n.length).put(n).putShort((short) infos.length);
        for (int info : infos) {
            b.putShort((short) info);
        }
        return b.array();
    }

    static byte[] metaContextRequest(String name, String... queries) {
        ByteBuffer b = ByteBuffer.allocate(4096);
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        b.putInt(n.length).put(n).putInt(queries.length);
        for (String q : queries) {
            byte[] qb = q.getBytes(StandardCharsets.UTF_8);
            b.putInt(qb.length).put(qb);
        }
        byte[] data = new byte[b.position()];
        b.flip().get(data);
        return data;
    }

    /** STRUCTURED_REPLY or EXTENDED_HEADERS as asked, SET_META_CONTEXT for the contexts, then GO. */
    WireClient negotiate(String export, boolean structured, boolean extendedHeaders, String... contexts) throws IOException {
        if (extendedHeaders) {
            option(NbdOption.EXTENDED_HEADERS, new byte[0]);
            expectAck();
            extended = true;
        } else if (structured) {
            option(NbdOption.STRUCTURED_REPLY, new byte[0]);
            expectAck();
        }
        if (contexts.length > 0) {
            option(NbdOption.SET_META_CONTEXT, metaContextRequest(export, contexts));
            optionReplies();
        }
        option(NbdOption.GO, infoRequest(export));
        for (OptionReply reply : optionReplies()) {
            if (reply.type() < 0) {
                throw new IOException("GO failed: " + reply.type());
            }
            ByteBuffer data = ByteBuffer.wrap(reply.data());
            if (reply.is(NbdOptionReply.INFO) && data.getShort(0) == 0) {
                exportSize = data.getLong(2);
                transmissionFlags = data.getShort(10) & 0xffff;
            }
        }
        return this;
    }

    private void expectAck() throws IOException {
        OptionReply reply = optionReply();
        if (!reply.is(NbdOptionReply.ACK)) {
            throw new IOException("expected ACK, got " + reply.type());
        }
    }

    void request(int flags, int type, long cookie, long offset, long length, byte[] payload) throws IOException {
        if (extended) {
            out.writeInt(NbdMagic.EXTENDED_REQUEST_MAGIC.intValue());
            out.writeShort(flags);
            out.writeShort(type);
            out.writeLong(cookie);
            out.writeLong(offset);
            out.writeLong(length);
        } else {
            out.writeInt(NbdMagic.REQUEST_MAGIC.intValue());
            out.writeShort(flags);
            out.writeShort(type);
            out.writeLong(cookie);
            out.writeLong(offset);
            out.writeInt((int) length);
        }
        if (payload != null) {
            out.write(payload);
        }
        out.flush();
    }

    /** One reply message; a successful simple read reply's data is read as {@code simpleDataLength} bytes. */
    Reply reply(int simpleDataLength) throws IOException {
        int magic = in.readInt();
        if (magic == NbdMagic.SIMPLE_REPLY_MAGIC.intValue()) {
            int error = in.readInt();
            long cookie = in.readLong();
            byte[] data = new byte[error == 0 ? simpleDataLength : 0];
            in.readFully(data);
            return new Reply(true, error, 0, -1, cookie, data);
        }
        int flags = in.readUnsignedShort();
        int type = in.readUnsignedShort();
        long cookie = in.readLong();
        long length;
        if (magic == NbdMagic.EXTENDED_REPLY_MAGIC.intValue()) {
            in.readLong();
            length = in.readLong();
        } else if (magic == NbdMagic.STRUCTURED_REPLY_MAGIC.intValue()) {
            length = Integer.toUnsignedLong(in.readInt());
        } else {
            throw new IOException("bad reply magic 0x" + Integer.toHexString(magic));
        }
        byte[] payload = new byte[(int) length];
        in.readFully(payload);
        int error = (type & 0x8000) != 0 ? ByteBuffer.wrap(payload).getInt() : 0;
        return new Reply(false, error, flags, type, cookie, payload);
    }

    /** Every message of one reply, up to the one marked DONE. */
    List<Reply> replies(int simpleDataLength) throws IOException {
        List<Reply> replies = new ArrayList<>();
        Reply reply;
        do {
            reply = reply(simpleDataLength);
            replies.add(reply);
        } while (!reply.done());
        return replies;
    }

    /** True when the server closed the connection (EOF) rather than sending more. */
    boolean closedByServer() throws IOException {
        try {
            return in.read() < 0;
        } catch (EOFException | java.net.SocketException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
