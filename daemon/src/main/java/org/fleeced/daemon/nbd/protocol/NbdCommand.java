package org.fleeced.daemon.nbd.protocol;

/** Request types of the transmission phase (NBD proto "Request types"). */
public enum NbdCommand {
    READ(0),
    WRITE(1),
    DISC(2),
    FLUSH(3),
    TRIM(4),
    CACHE(5),
    WRITE_ZEROES(6),
    BLOCK_STATUS(7),
    RESIZE(8);

    private static final NbdCommand[] BY_CODE = values();

    private final int code;

    NbdCommand(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The command with this wire code, or null for an unknown one. */
    public static NbdCommand lookup(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
