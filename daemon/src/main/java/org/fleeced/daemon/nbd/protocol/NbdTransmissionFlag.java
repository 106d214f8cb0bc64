package org.fleeced.daemon.nbd.protocol;

import java.util.Set;

/** Transmission flags, the u16 sent with the export size (NBD proto "Transmission flags"). */
public enum NbdTransmissionFlag {
    HAS_FLAGS(1),
    READ_ONLY(1 << 1),
    SEND_FLUSH(1 << 2),
    SEND_FUA(1 << 3),
    ROTATIONAL(1 << 4),
    SEND_TRIM(1 << 5),
    SEND_WRITE_ZEROES(1 << 6),
    SEND_DF(1 << 7),
    CAN_MULTI_CONN(1 << 8),
    SEND_RESIZE(1 << 9),
    SEND_CACHE(1 << 10),
    SEND_FAST_ZERO(1 << 11),
    BLOCK_STAT_PAYLOAD(1 << 12);

    private final int mask;

    NbdTransmissionFlag(int mask) {
        this.mask = mask;
    }

    public int mask() {
        return mask;
    }

    public static int maskOf(Set<NbdTransmissionFlag> flags) {
        int mask = 0;
        for (NbdTransmissionFlag flag : flags) {
            mask |= flag.mask;
        }
        return mask;
    }
}
