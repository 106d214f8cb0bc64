package org.fleeced.daemon.nbd.protocol;

/** Option reply types (NBD proto "Option reply types"); errors have bit 31 set. */
public enum NbdOptionReply {
    ACK(1),
    SERVER(2),
    INFO(3),
    META_CONTEXT(4),
    ERR_UNSUP(error(1)),
    ERR_POLICY(error(2)),
    ERR_INVALID(error(3)),
    ERR_PLATFORM(error(4)),
    ERR_TLS_REQD(error(5)),
    ERR_UNKNOWN(error(6)),
    ERR_SHUTDOWN(error(7)),
    ERR_BLOCK_SIZE_REQD(error(8)),
    ERR_TOO_BIG(error(9)),
    ERR_EXT_HEADER_REQD(error(10));

    private final int code;

    NbdOptionReply(int code) {
        this.code = code;
    }

    private static int error(int n) {
        return (1 << 31) | n;
    }

    public int code() {
        return code;
    }

    public boolean isError() {
        return code < 0;
    }
}
