package org.fleeced.daemon.nbd.client;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLException;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Capabilities;
import org.fleeced.block.Errno;
import org.fleeced.daemon.nbd.protocol.NbdClientFlag;
import org.fleeced.daemon.nbd.protocol.NbdHandshakeFlag;
import org.fleeced.daemon.nbd.protocol.NbdInfo;
import org.fleeced.daemon.nbd.protocol.NbdMagic;
import org.fleeced.daemon.nbd.protocol.NbdOption;
import org.fleeced.daemon.nbd.protocol.NbdOptionReply;
import org.fleeced.daemon.nbd.protocol.NbdTransmissionFlag;

/**
 * The client side of option haggling (NBD proto "Fixed newstyle negotiation"), run once per
 * connection before any request.
 *
 * <ol>
 *   <li>The server must offer fixed newstyle.
 *   <li>For {@code nbds://}, NBD_OPT_STARTTLS; any answer but ACK ends the session (the URI asked
 *       for TLS, so it is never continued in plain text), then the TLS handshake, which checks the
 *       server's certificate against the configured CA and the URI's host name.
 *   <li>Structured replies and, when they are granted, the {@code base:allocation} context.
 *       Without them block status reports everything as data (correct, only slower).
 *   <li>NBD_OPT_GO with a request for block size constraints.
 * </ol>
 *
 * Every length a server announces is checked against what was asked before anything is
 * allocated for it.
 */
final class NbdClientHandshake {
    static final String BASE_ALLOCATION = "base:allocation";
    /** Option replies beyond this are refused: nothing this client asks for is longer. */
    private static final int MAX_OPTION_REPLY = 64 << 10;

    /** What the haggling agreed on, and the socket (TLS or not) that transmission continues on. */
    record Session(NbdSocket socket, long sizeBytes, int transmissionFlags, boolean structured, int allocationContext,
            int minBlock, int preferredBlock, int maxRequest) {
        boolean has(NbdTransmissionFlag flag) {
            return (transmissionFlags & flag.mask()) != 0;
        }
    }

    private NbdSocket socket;
    private final String name;

    private NbdClientHandshake(NbdSocket socket, String name) {
        this.socket = socket;
        this.name = name;
    }

    /**
     * Negotiates {@code uri}'s export on {@code socket}; EIO names what the server refused or what
     * failed. {@code tls} is what an {@code nbds://} URI is checked with.
     */
    static Session negotiate(NbdSocket socket, NbdUri uri, NbdClientTls tls, String name)
            throws IOException, BlockIOException {
        return new NbdClientHandshake(socket, name).run(uri, tls);
    }

    private Session run(NbdUri uri, NbdClientTls tls) throws IOException, BlockIOException {
        ByteBuffer greeting = socket.readExactly(18);
        if (greeting.getLong() != NbdMagic.NBDMAGIC.value() || greeting.getLong() != NbdMagic.IHAVEOPT.value()) {
            throw new IOException("not a newstyle NBD server");
        }
        int serverFlags = greeting.getShort() & 0xffff;
        if ((serverFlags & NbdHandshakeFlag.FIXED_NEWSTYLE.mask()) == 0) {
            throw new IOException("the server does not offer fixed newstyle negotiation");
        }
        int clientFlags = NbdClientFlag.C_FIXED_NEWSTYLE.mask() | (serverFlags & NbdHandshakeFlag.NO_ZEROES.mask());
        socket.write(ByteBuffer.allocate(4).putInt(clientFlags).flip());
        if (uri.tls()) {
            startTls(uri, tls);
        }
        String export = uri.exportName();
        boolean structured = reply(NbdOption.STRUCTURED_REPLY, new byte[0]).type == NbdOptionReply.ACK.code();
        int allocationContext = structured ? allocationContext(export) : -1;
        return go(export, structured, allocationContext);
    }

    private void startTls(NbdUri uri, NbdClientTls tls) throws IOException, BlockIOException {
        if (tls == null) {
            throw new BlockIOException(Errno.EINVAL, name + ": an nbds:// URI needs the daemon's nbdClientTls.caFile");
        }
        OptionReply answer = reply(NbdOption.STARTTLS, new byte[0]);
        if (answer.type != NbdOptionReply.ACK.code()) {
            throw new BlockIOException(Errno.EIO, name + ": the server does not offer TLS (NBD_OPT_STARTTLS answered "
                    + replyName(answer.type) + "); an nbds:// URI is never written in plain text");
        }
        try {
            socket = socket.startTls(tls.context(), uri.host());
        } catch (SSLException e) {
            throw new BlockIOException(Errno.EIO, name + ": TLS handshake failed: " + e.getMessage()
                    + " (the server's certificate must be signed by nbdClientTls.caFile and name " + uri.host() + ")", e);
        }
    }

    private int allocationContext(String export) throws IOException {
        byte[] exportBytes = export.getBytes(StandardCharsets.UTF_8);
        byte[] query = BASE_ALLOCATION.getBytes(StandardCharsets.UTF_8);
        ByteBuffer data = ByteBuffer.allocate(4 + exportBytes.length + 4 + 4 + query.length);
        data.putInt(exportBytes.length).put(exportBytes).putInt(1).putInt(query.length).put(query);
        int id = -1;
        for (OptionReply r = reply(NbdOption.SET_META_CONTEXT, data.array()); r.type != NbdOptionReply.ACK.code();
                r = readOptionReply(NbdOption.SET_META_CONTEXT)) {
            if (r.type == NbdOptionReply.META_CONTEXT.code() && r.data.remaining() >= 4) {
                int context = r.data.getInt();
                if (StandardCharsets.UTF_8.decode(r.data).toString().equals(BASE_ALLOCATION)) {
                    id = context;
                }
            } else if (r.type < 0) {
                break;
            }
        }
        return id;
    }

    private Session go(String export, boolean structured, int allocationContext) throws IOException, BlockIOException {
        byte[] exportBytes = export.getBytes(StandardCharsets.UTF_8);
        ByteBuffer request = ByteBuffer.allocate(4 + exportBytes.length + 2 + 2);
        request.putInt(exportBytes.length).put(exportBytes).putShort((short) 1).putShort((short) NbdInfo.BLOCK_SIZE.code());
        long sizeBytes = -1;
        int flags = NbdTransmissionFlag.READ_ONLY.mask();
        int minBlock = 1;
        int preferredBlock = 4096;
        int maxRequest = Capabilities.DEFAULT_MAX_REQUEST_BYTES;
        for (OptionReply r = reply(NbdOption.GO, request.array()); r.type != NbdOptionReply.ACK.code();
                r = readOptionReply(NbdOption.GO)) {
            if (r.type < 0) {
                throw new BlockIOException(Errno.EIO, name + ": the server refused export '" + export + "' ("
                        + replyName(r.type) + "): " + StandardCharsets.UTF_8.decode(r.data)
                        + (r.type == NbdOptionReply.ERR_TLS_REQD.code() ? " (it requires TLS: use nbds://)" : ""));
            }
            if (r.type != NbdOptionReply.INFO.code() || r.data.remaining() < 2) {
                continue;
            }
            int info = r.data.getShort() & 0xffff;
            if (info == NbdInfo.EXPORT.code() && r.data.remaining() >= 10) {
                sizeBytes = r.data.getLong();
                flags = r.data.getShort() & 0xffff;
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
        if (sizeBytes < 0) {
            throw new IOException("the server sent no export size");
        }
        preferredBlock = Math.max(preferredBlock, minBlock);
        return new Session(socket, sizeBytes, flags, structured, allocationContext, minBlock, preferredBlock,
                Math.max(maxRequest, preferredBlock));
    }

    private record OptionReply(int type, ByteBuffer data) {
    }

    /** Sends {@code option} and reads its first reply. */
    private OptionReply reply(NbdOption option, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16 + data.length);
        b.putLong(NbdMagic.IHAVEOPT.value()).putInt(option.code()).putInt(data.length).put(data);
        socket.write(b.flip());
        return readOptionReply(option);
    }

    private OptionReply readOptionReply(NbdOption option) throws IOException {
        ByteBuffer head = socket.readExactly(20);
        if (head.getLong() != NbdMagic.REP_MAGIC.value() || head.getInt() != option.code()) {
            throw new IOException("a malformed reply to " + option);
        }
        int type = head.getInt();
        int length = head.getInt();
        if (length < 0 || length > MAX_OPTION_REPLY) {
            throw new IOException("a reply to " + option + " of " + Integer.toUnsignedString(length) + " bytes");
        }
        return new OptionReply(type, socket.readExactly(length));
    }

    private static String replyName(int type) {
        for (NbdOptionReply r : NbdOptionReply.values()) {
            if (r.code() == type) {
                return r.name();
            }
        }
        return "reply type " + Integer.toHexString(type);
    }
}
