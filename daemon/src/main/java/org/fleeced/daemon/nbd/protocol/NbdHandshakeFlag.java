package org.fleeced.daemon.nbd.protocol;

/** Handshake flags the server sends in its greeting (u16, NBD proto "Handshake flags"). */
public enum NbdHandshakeFlag {
    FIXED_NEWSTYLE(1),
    NO_ZEROES(1 << 1);

    private final int mask;

    NbdHandshakeFlag(int mask) {
        this.mask = mask;
    }

    public int mask() {
        return mask;
    }
}
