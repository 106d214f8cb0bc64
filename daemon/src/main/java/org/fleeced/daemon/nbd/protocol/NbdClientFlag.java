package org.fleeced.daemon.nbd.protocol;

/** Client flags, the u32 the client answers the greeting with (NBD proto "Client flags"). */
public enum NbdClientFlag {
    C_FIXED_NEWSTYLE(1),
    C_NO_ZEROES(1 << 1);

    private final int mask;

    NbdClientFlag(int mask) {
        this.mask = mask;
    }

    public int mask() {
        return mask;
    }

    /** Every bit this server understands; any other bit makes the server drop the connection. */
    public static int knownMask() {
        return C_FIXED_NEWSTYLE.mask | C_NO_ZEROES.mask;
    }
}
