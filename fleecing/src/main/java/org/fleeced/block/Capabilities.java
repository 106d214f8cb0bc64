package org.fleeced.block;

/**
 * What a node can do and the request shapes it wants, queried up front (as nbdkit's
 * {@code can_*} callbacks), so that callers never learn them from a failure.
 *
 * @param canWrite          write and writeZeroes are allowed at all (and discard, see canDiscard)
 * @param canZero           writeZeroes is efficient (not emulated by writing zero buffers)
 * @param canFastZero       writeZeroes honours {@link WriteFlag#FAST_ZERO}
 * @param canDiscard        discard may deallocate; when false on a writable node it is accepted and
 *                          does nothing. A read-only node with canDiscard takes discards only (a
 *                          fleecing snapshot whose reader gives back what it has read).
 * @param canFlush          flush reaches stable storage
 * @param canFua            {@link WriteFlag#FUA} is honoured per request (otherwise a caller must flush)
 * @param requestAlignment  offsets and lengths of every request are multiples of this (a power of two)
 * @param preferredSize     the request size that is efficient (a power of two, at least requestAlignment)
 * @param maxRequestBytes   the largest read or write length accepted in one call
 */
public record Capabilities(
        boolean canWrite,
        boolean canZero,
        boolean canFastZero,
        boolean canDiscard,
        boolean canFlush,
        boolean canFua,
        int requestAlignment,
        int preferredSize,
        int maxRequestBytes) {

    /** 32 MiB: the largest NBD payload every client and server agree on. */
    public static final int DEFAULT_MAX_REQUEST_BYTES = 32 << 20;

    public Capabilities {
        requirePowerOfTwo("requestAlignment", requestAlignment);
        requirePowerOfTwo("preferredSize", preferredSize);
        if (preferredSize < requestAlignment) {
            throw new IllegalArgumentException("preferredSize " + preferredSize + " < requestAlignment " + requestAlignment);
        }
        if (maxRequestBytes < preferredSize) {
            throw new IllegalArgumentException("maxRequestBytes " + maxRequestBytes + " < preferredSize " + preferredSize);
        }
        if (canFastZero && !canZero) {
            throw new IllegalArgumentException("canFastZero needs canZero");
        }
        if (!canWrite && (canZero || canFua)) {
            throw new IllegalArgumentException("a read-only node cannot zero or FUA");
        }
    }

    /** The capabilities a read-only view of this node has (no discard either). */
    public Capabilities readOnly() {
        return new Capabilities(false, false, false, false, canFlush, false,
                requestAlignment, preferredSize, maxRequestBytes);
    }

    private static void requirePowerOfTwo(String what, int value) {
        if (value <= 0 || Integer.bitCount(value) != 1) {
            throw new IllegalArgumentException(what + " must be a power of two, not " + value);
        }
    }
}
