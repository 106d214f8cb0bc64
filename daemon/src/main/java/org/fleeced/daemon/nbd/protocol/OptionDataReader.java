package org.fleeced.daemon.nbd.protocol;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Reads the fields of option data, checking every length against what is left (no overrun, no NUL, valid UTF-8). */
final class OptionDataReader {
    private static final int MAX_STRING_BYTES = 4096;

    private final ByteBuffer data;

    OptionDataReader(byte[] data) {
        this.data = ByteBuffer.wrap(data);
    }

    int remaining() {
        return data.remaining();
    }

    long u32() throws MalformedOptionException {
        need(4, "u32");
        return Integer.toUnsignedLong(data.getInt());
    }

    int u16() throws MalformedOptionException {
        need(2, "u16");
        return Short.toUnsignedInt(data.getShort());
    }

    /** A string whose u32 length precedes it. */
    String lengthPrefixedString(String what) throws MalformedOptionException {
        long length = u32();
        if (length > MAX_STRING_BYTES || length > data.remaining()) {
            throw new MalformedOptionException(what + " length " + length + " overruns the option");
        }
        return string((int) length, what);
    }

    String string(int length, String what) throws MalformedOptionException {
        need(length, what);
        byte[] bytes = new byte[length];
        data.get(bytes);
        for (byte b : bytes) {
            if (b == 0) {
                throw new MalformedOptionException(what + " contains NUL");
            }
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new MalformedOptionException(what + " is not valid UTF-8");
        }
    }

    void expectEnd(String what) throws MalformedOptionException {
        if (data.hasRemaining()) {
            throw new MalformedOptionException(what + " has " + data.remaining() + " trailing bytes");
        }
    }

    private void need(int bytes, String what) throws MalformedOptionException {
        if (data.remaining() < bytes) {
            throw new MalformedOptionException(what + " overruns the option");
        }
    }
}
