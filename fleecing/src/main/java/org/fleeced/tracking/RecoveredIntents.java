package org.fleeced.tracking;

import java.util.BitSet;

/**
 * The regions an intent log found marked after an unclean stop: every byte the image may have
 * had written since its bitmaps were last stored lies in one of them.
 */
public record RecoveredIntents(int regionBits, long imageSize, BitSet regions) {

    public long regionSize() {
        return 1L << regionBits;
    }

    /** Calls {@code sink} with each marked byte range, clipped to the image, in ascending order. */
    public void forEachRange(RangeSink sink) {
        for (int r = regions.nextSetBit(0); r >= 0; ) {
            int end = regions.nextClearBit(r);
            long offset = (long) r << regionBits;
            long length = Math.min(imageSize, (long) end << regionBits) - offset;
            if (length > 0) {
                sink.accept(offset, length);
            }
            r = regions.nextSetBit(end);
        }
    }

    public boolean isEmpty() {
        return regions.isEmpty();
    }

    /** Receives byte ranges. */
    @FunctionalInterface
    public interface RangeSink {
        void accept(long offset, long length);
    }
}
