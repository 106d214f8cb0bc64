package org.fleeced.daemon.nbd.protocol;

/** Command flags of a request (NBD proto "Command flags"). */
public enum NbdCommandFlag {
    FUA(1),
    NO_HOLE(1 << 1),
    DF(1 << 2),
    REQ_ONE(1 << 3),
    FAST_ZERO(1 << 4),
    /** Extended headers only: the length field is the length of a payload that follows. */
    PAYLOAD_LEN(1 << 5);

    private final int mask;

    NbdCommandFlag(int mask) {
        this.mask = mask;
    }

    public int mask() {
        return mask;
    }

    public boolean isSetIn(int flags) {
        return (flags & mask) != 0;
    }
}
