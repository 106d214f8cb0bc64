package org.fleeced.cbw;

/**
 * Counters of a fleecing job (or one disk of it), read at one moment.
 *
 * @param clustersCopied        CBW clusters saved to the temp image (including those found zero and not written)
 * @param tempBytes             bytes of old data the temp images hold now
 * @param bytesReadable         bytes the reader may still read (the access bitmap)
 * @param bytesRead             bytes the reader has read
 * @param bytesDiscarded        bytes the reader has discarded (after rounding inward to CBW clusters)
 * @param writesDelayedByCbw    guest changes that waited for a copy (their own or another writer's)
 * @param cbwDelayNanos         total time those waited
 * @param writesDelayedByReads  guest changes that waited for an overlapping frozen read
 * @param readDelayNanos        total time those waited
 */
public record FleeceStats(
        long clustersCopied,
        long tempBytes,
        long bytesReadable,
        long bytesRead,
        long bytesDiscarded,
        long writesDelayedByCbw,
        long cbwDelayNanos,
        long writesDelayedByReads,
        long readDelayNanos) {

    public static final FleeceStats ZERO = new FleeceStats(0, 0, 0, 0, 0, 0, 0, 0, 0);

    public FleeceStats plus(FleeceStats o) {
        return new FleeceStats(clustersCopied + o.clustersCopied, tempBytes + o.tempBytes,
                bytesReadable + o.bytesReadable, bytesRead + o.bytesRead, bytesDiscarded + o.bytesDiscarded,
                writesDelayedByCbw + o.writesDelayedByCbw, cbwDelayNanos + o.cbwDelayNanos,
                writesDelayedByReads + o.writesDelayedByReads, readDelayNanos + o.readDelayNanos);
    }
}
