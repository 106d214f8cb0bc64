package org.fleeced.qcow2.bitmap;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.fleeced.bitmaps.BitmapView;
import org.fleeced.bitmaps.ByteRange;

/** The test's own model of a dirty bitmap: written ranges rounded out to granules, as merged runs. */
final class ClusterRuns {
    private final long diskSize;
    private final long granularity;
    private final BitSet granules = new BitSet();

    ClusterRuns(long diskSize, long granularity) {
        this.diskSize = diskSize;
        this.granularity = granularity;
    }

    void add(long offset, long length) {
        if (length > 0) {
            granules.set((int) (offset / granularity), (int) ((offset + length - 1) / granularity) + 1);
        }
    }

    void addAll(ClusterRuns other) {
        granules.or(other.granules);
    }

    void clear() {
        granules.clear();
    }

    List<ByteRange> runs() {
        List<ByteRange> out = new ArrayList<>();
        for (int g = granules.nextSetBit(0); g >= 0; ) {
            int end = granules.nextClearBit(g);
            long start = g * granularity;
            out.add(new ByteRange(start, Math.min(diskSize, end * granularity) - start));
            g = granules.nextSetBit(end);
        }
        return out;
    }

    /** The granule indices of the model that {@code bitmap} does not have dirty, or an empty list. */
    List<Long> missingFrom(BitmapView bitmap) {
        List<Long> missing = new ArrayList<>();
        for (int g = granules.nextSetBit(0); g >= 0; g = granules.nextSetBit(g + 1)) {
            if (!bitmap.get(g * granularity)) {
                missing.add(g * granularity);
            }
        }
        return missing;
    }
}
