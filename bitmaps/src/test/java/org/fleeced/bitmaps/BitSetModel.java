package org.fleeced.bitmaps;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * The reference a {@link DirtyBitmap} is checked against: one {@link BitSet} bit per cluster of
 * a window {@code [base, base + width)} of clusters, every rule written the plainest way
 * (cluster by cluster, "wholly inside" as two comparisons). Clusters outside the window are
 * always clean, which lets the model stand for disks of 2^54 clusters.
 */
final class BitSetModel {

  final long sizeBytes;
  final long granularity;
  final long clusterCount;
  final long base;
  final int width;
  private final BitSet bits;
  boolean enabled = true;

  BitSetModel(long sizeBytes, long granularity, long base, int width) {
    this.sizeBytes = sizeBytes;
    this.granularity = granularity;
    this.clusterCount = sizeBytes / granularity + (sizeBytes % granularity == 0 ? 0 : 1);
    this.base = base;
    this.width = width;
    this.bits = new BitSet(width);
  }

  BitSetModel copy() {
    var copy = new BitSetModel(sizeBytes, granularity, base, width);
    copy.bits.or(bits);
    copy.enabled = enabled;
    return copy;
  }

  long windowEnd() {
    return base + width;
  }

  long startOf(long cluster) {
    return cluster * granularity;
  }

  long endOf(long cluster) {
    return cluster == clusterCount - 1 ? sizeBytes : (cluster + 1) * granularity;
  }

  boolean isDirty(long cluster) {
    return cluster >= base && cluster < windowEnd() && bits.get((int) (cluster - base));
  }

  private void put(long cluster, boolean dirty) {
    if (cluster < base || cluster >= windowEnd()) {
      throw new IllegalStateException("test bug: cluster " + cluster + " outside the model window");
    }
    bits.set((int) (cluster - base), dirty);
  }

  void set(long offset, long length) {
    if (length > 0) {
      for (long c = offset / granularity; c <= (offset + length - 1) / granularity; c++) {
        put(c, true);
      }
    }
  }

  void track(long offset, long length) {
    if (enabled) {
      set(offset, length);
    }
  }

  void reset(long offset, long length) {
    for (long c = Math.max(base, offset / granularity); c < windowEnd(); c++) {
      if (startOf(c) >= offset && endOf(c) <= offset + length) {
        put(c, false);
      }
    }
  }

  void clear() {
    bits.clear();
  }

  void merge(BitSetModel other) {
    bits.or(other.bits);
  }

  void andNot(BitSetModel other) {
    bits.andNot(other.bits);
  }

  boolean get(long offset) {
    return isDirty(offset / granularity);
  }

  boolean anyDirty(long offset, long length) {
    return length > 0 && nextDirty(offset, offset + length) >= 0;
  }

  long nextDirty(long offset, long end) {
    if (offset >= end) {
      return -1;
    }
    for (long c = Math.max(offset / granularity, base); c < windowEnd() && startOf(c) < end; c++) {
      if (isDirty(c)) {
        return Math.max(offset, startOf(c));
      }
    }
    return -1;
  }

  long nextClean(long offset, long end) {
    if (offset >= end) {
      return -1;
    }
    for (long c = offset / granularity; c < clusterCount && startOf(c) < end; c++) {
      if (!isDirty(c)) {
        return Math.max(offset, startOf(c));
      }
    }
    return -1;
  }

  RangeStatus status(long offset, long length) {
    if (length == 0) {
      return new RangeStatus(false, 0);
    }
    boolean dirty = get(offset);
    long runEnd = dirty ? nextClean(offset, offset + length) : nextDirty(offset, offset + length);
    return new RangeStatus(dirty, (runEnd < 0 ? offset + length : runEnd) - offset);
  }

  List<ByteRange> dirtyExtents(long offset, long length, int maxCount) {
    long end = length > sizeBytes - offset ? sizeBytes : offset + length;
    List<ByteRange> extents = new ArrayList<>();
    long position = offset;
    while (extents.size() < maxCount && position < end) {
      long start = nextDirty(position, end);
      if (start < 0) {
        break;
      }
      long stop = nextClean(start, end);
      stop = stop < 0 ? end : stop;
      extents.add(new ByteRange(start, stop - start));
      position = stop;
    }
    return extents;
  }

  long dirtyClusters() {
    return bits.cardinality();
  }

  long dirtyBytes() {
    long bytes = 0;
    for (int i = bits.nextSetBit(0); i >= 0; i = bits.nextSetBit(i + 1)) {
      bytes += endOf(base + i) - startOf(base + i);
    }
    return bytes;
  }
}
