package org.fleeced.daemon.nbd.protocol;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;

/**
 * Encodes the server's handshake messages: the greeting, option replies (NBD proto "Fixed newstyle
 * negotiation") and the payloads of REP_INFO, REP_SERVER and REP_META_CONTEXT. Every method returns
 * one whole message.
 */
public final class OptionReplyEncoder {
    /** The reserved zero bytes after an NBD_OPT_EXPORT_NAME reply unless NO_ZEROES was negotiated. */
    public static final int EXPORT_NAME_ZEROES = 124;

    private OptionReplyEncoder() {
    }

    public static Buffer greeting(int handshakeFlags) {
        return Buffer.buffer(18)
                .appendLong(NbdMagic.NBDMAGIC.value())
                .appendLong(NbdMagic.IHAVEOPT.value())
                .appendUnsignedShort(handshakeFlags);
    }

    public static Buffer reply(int option, NbdOptionReply type, Buffer data) {
        return Buffer.buffer(20 + data.length())
                .appendLong(NbdMagic.REP_MAGIC.value())
                .appendInt(option)
                .appendInt(type.code())
                .appendInt(data.length())
                .appendBuffer(data);
    }

    public static Buffer ack(int option) {
        return reply(option, NbdOptionReply.ACK, Buffer.buffer());
    }

    /** An error reply with a human-readable message (UTF-8, cut to the spec's 4096-byte limit). */
    public static Buffer error(int option, NbdOptionReply type, String message) {
        return reply(option, type, Buffer.buffer(utf8Limited(message)));
    }

    /** The reply to a successful NBD_OPT_EXPORT_NAME: size, flags, and the zero padding unless NO_ZEROES. */
    public static Buffer exportNameReply(long sizeBytes, int transmissionFlags, boolean noZeroes) {
        Buffer reply = Buffer.buffer(10 + EXPORT_NAME_ZEROES)
                .appendLong(sizeBytes)
                .appendUnsignedShort(transmissionFlags);
        if (!noZeroes) {
            reply.appendBytes(new byte[EXPORT_NAME_ZEROES]);
        }
        return reply;
    }

    /** NBD_INFO_EXPORT: length exactly 12. */
    public static Buffer infoExport(long sizeBytes, int transmissionFlags) {
        return Buffer.buffer(12).appendUnsignedShort(NbdInfo.EXPORT.code())
                .appendLong(sizeBytes).appendUnsignedShort(transmissionFlags);
    }

    public static Buffer infoName(String name) {
        return Buffer.buffer().appendUnsignedShort(NbdInfo.NAME.code()).appendBytes(utf8Limited(name));
    }

    public static Buffer infoDescription(String description) {
        return Buffer.buffer().appendUnsignedShort(NbdInfo.DESCRIPTION.code()).appendBytes(utf8Limited(description));
    }

    /** NBD_INFO_BLOCK_SIZE: length exactly 14. */
    public static Buffer infoBlockSize(int minimum, int preferred, int maximum) {
        return Buffer.buffer(14).appendUnsignedShort(NbdInfo.BLOCK_SIZE.code())
                .appendInt(minimum).appendInt(preferred).appendInt(maximum);
    }

    /** NBD_REP_SERVER: u32 name length, name, then a free-form description. */
    public static Buffer server(String name, String description) {
        byte[] nameBytes = utf8Limited(name);
        return Buffer.buffer().appendInt(nameBytes.length).appendBytes(nameBytes).appendBytes(utf8Limited(description));
    }

    /** NBD_REP_META_CONTEXT: u32 context id, name. */
    public static Buffer metaContext(int id, String name) {
        return Buffer.buffer().appendInt(id).appendBytes(utf8Limited(name));
    }

    static byte[] utf8Limited(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (bytes.length <= 4096) {
            return bytes;
        }
        byte[] cut = new byte[4096];
        System.arraycopy(bytes, 0, cut, 0, cut.length);
        return cut;
    }
}
