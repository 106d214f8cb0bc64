package org.fleeced.daemon.nbd.protocol;

/** Structured reply chunk types (NBD proto "Structured reply types"); errors have bit 15 set. */
public enum NbdReplyType {
    NONE(0),
    OFFSET_DATA(1),
    OFFSET_HOLE(2),
    BLOCK_STATUS(5),
    BLOCK_STATUS_EXT(6),
    ERROR((1 << 15) + 1),
    ERROR_OFFSET((1 << 15) + 2);

    /** Chunk flag: this is the last chunk of the reply (NBD_REPLY_FLAG_DONE). */
    public static final int FLAG_DONE = 1;

    private final int code;

    NbdReplyType(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }
}
