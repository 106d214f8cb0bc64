package org.fleeced.daemon.nbd.protocol;

/**
 * One transmission request header as it came off the wire, not yet validated.
 *
 * @param flags    command flags (u16)
 * @param type     command type (u16); see {@link #command()}
 * @param cookie   the client's handle, echoed opaquely in every reply chunk
 * @param offset   u64 offset: values at or above 2^63 are negative here, compare unsigned
 * @param length   u32 (compact) or u64 (extended) length: compare unsigned
 * @param extended the request came with an extended header (NBD_OPT_EXTENDED_HEADERS)
 */
public record NbdRequest(int flags, int type, long cookie, long offset, long length, boolean extended) {

    /** The command, or null when the type is unknown. */
    public NbdCommand command() {
        return NbdCommand.lookup(type);
    }

    public boolean has(NbdCommandFlag flag) {
        return flag.isSetIn(flags);
    }

    /** Whether a payload of {@link #length()} bytes follows this header on the wire. */
    public boolean carriesPayload() {
        return extended ? has(NbdCommandFlag.PAYLOAD_LEN) : type == NbdCommand.WRITE.code();
    }

    /** For logs: {@code WRITE cookie=5 offset=0 length=4096 flags=0x1}. */
    public String describe() {
        NbdCommand command = command();
        return (command != null ? command.name() : "unknown command " + type)
                + " cookie=" + Long.toUnsignedString(cookie)
                + " offset=" + Long.toUnsignedString(offset)
                + " length=" + Long.toUnsignedString(length)
                + " flags=0x" + Integer.toHexString(flags);
    }
}
