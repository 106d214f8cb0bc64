package org.fleeced.tracking;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Sets of regions as words of 64 bits, LSB first (the layout of an {@link IntentLog} map),
 * changed without locks: a bit once set stays set until the whole map is cleared.
 */
final class RegionWords {
    private RegionWords() {
    }

    /** The bits of word {@code w} that lie in {@code [first, last]}. */
    static long rangeMask(int w, int first, int last) {
        int lo = Math.max(first, w * 64) - w * 64;
        int hi = Math.min(last, w * 64 + 63) - w * 64;
        return (-1L >>> (63 - hi)) & (-1L << lo);
    }

    /** Whether every region of {@code [first, last]} is set. */
    static boolean allSet(AtomicLongArray bits, int first, int last) {
        for (int w = first / 64; w <= last / 64; w++) {
            long mask = rangeMask(w, first, last);
            if ((bits.get(w) & mask) != mask) {
                return false;
            }
        }
        return true;
    }

    /** Sets every region of {@code [first, last]}. */
    static void add(AtomicLongArray bits, int first, int last) {
        for (int w = first / 64; w <= last / 64; w++) {
            long mask = rangeMask(w, first, last);
            if ((bits.get(w) & mask) != mask) {
                bits.getAndUpdate(w, v -> v | mask);
            }
        }
    }

    static long count(AtomicLongArray bits) {
        long count = 0;
        for (int w = 0; w < bits.length(); w++) {
            count += Long.bitCount(bits.get(w));
        }
        return count;
    }
}
