package org.fleeced.block;

/**
 * Rounding of byte ranges to power-of-two units (clusters, sectors). The one place where this
 * arithmetic is written; every caller rounds through it.
 */
public final class Alignment {
    private Alignment() {
    }

    public static boolean isPowerOfTwo(long value) {
        return value > 0 && Long.bitCount(value) == 1;
    }

    public static long alignDown(long value, long unit) {
        return value & -unit;
    }

    /** Rounds up; the caller guarantees no overflow (values are at most 2^63 - unit). */
    public static long alignUp(long value, long unit) {
        return (value + unit - 1) & -unit;
    }

    public static boolean isAligned(long value, long unit) {
        return (value & (unit - 1)) == 0;
    }

    /** The largest unit-aligned range inside {@code [offset, offset + length)}, or null when there is none. */
    public static Range inward(long offset, long length, long unit) {
        long start = alignUp(offset, unit);
        long end = alignDown(offset + length, unit);
        return end > start ? new Range(start, end - start) : null;
    }

    /** The smallest unit-aligned range that covers {@code [offset, offset + length)}. */
    public static Range outward(long offset, long length, long unit) {
        long start = alignDown(offset, unit);
        return new Range(start, alignUp(offset + length, unit) - start);
    }

    /** A byte range {@code [offset, offset + length)}. */
    public record Range(long offset, long length) {
        public long end() {
            return offset + length;
        }

        public boolean overlaps(long otherOffset, long otherLength) {
            return offset < otherOffset + otherLength && otherOffset < offset + length;
        }
    }
}
