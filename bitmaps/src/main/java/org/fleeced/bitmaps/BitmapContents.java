package org.fleeced.bitmaps;

import java.util.ArrayList;
import java.util.List;

/**
 * The bits of a bitmap together with its geometry: every {@link BitmapView} query and every
 * mutation, in guest bytes, translated to cluster indices of a {@link ClusterSet}.
 *
 * <p>Not thread-safe, and no locking here: {@link DirtyBitmap} calls it under its lock, {@link
 * FrozenBitmap} only reads an instance nobody changes any more.
 */
final class BitmapContents {

  private final ClusterGeometry geometry;

  /** Indices of the dirty clusters, all below {@code geometry.clusterCount()}. */
  private final ClusterSet dirty;

  BitmapContents(ClusterGeometry geometry) {
    this(geometry, new ClusterSet());
  }

  private BitmapContents(ClusterGeometry geometry, ClusterSet dirty) {
    this.geometry = geometry;
    this.dirty = dirty;
  }

  ClusterGeometry geometry() {
    return geometry;
  }

  /** A deep, independent copy. */
  BitmapContents copy() {
    return new BitmapContents(geometry, dirty.copy());
  }

  boolean get(long offset) {
    geometry.checkOffset(offset);
    return dirty.contains(geometry.clusterOf(offset));
  }

  boolean anyDirty(long offset, long length) {
    geometry.checkRange(offset, length);
    if (length == 0) {
      return false;
    }
    long next = dirty.nextSet(geometry.clusterOf(offset));
    return next >= 0 && next < geometry.endTouched(offset + length);
  }

  /** Whether any cluster touched by {@code [offset, offset + length)} is clean. */
  boolean anyClean(long offset, long length) {
    geometry.checkRange(offset, length);
    return length > 0
        && dirty.nextClear(geometry.clusterOf(offset)) < geometry.endTouched(offset + length);
  }

  long nextDirty(long offset, long end) {
    geometry.checkBounds(offset, end);
    return offset == end
        ? -1
        : clampedStart(dirty.nextSet(geometry.clusterOf(offset)), offset, end);
  }

  long nextClean(long offset, long end) {
    geometry.checkBounds(offset, end);
    return offset == end
        ? -1
        : clampedStart(dirty.nextClear(geometry.clusterOf(offset)), offset, end);
  }

  /** Guest offset of {@code cluster}, at least {@code offset}; -1 when not before {@code end}. */
  private long clampedStart(long cluster, long offset, long end) {
    if (cluster < 0) {
      return -1;
    }
    long start = Math.max(offset, geometry.startOf(cluster));
    return start < end ? start : -1;
  }

  RangeStatus status(long offset, long length) {
    geometry.checkRange(offset, length);
    if (length == 0) {
      return new RangeStatus(false, 0);
    }
    long end = offset + length;
    boolean isDirty = dirty.contains(geometry.clusterOf(offset));
    long runEnd = isDirty ? nextClean(offset, end) : nextDirty(offset, end);
    return new RangeStatus(isDirty, (runEnd < 0 ? end : runEnd) - offset);
  }

  List<ByteRange> dirtyExtents(long offset, long length, int maxCount) {
    geometry.checkRange(offset, 0);
    if (length < 0 || maxCount < 0) {
      throw new IllegalArgumentException(
          "negative length " + length + " or maxCount " + maxCount);
    }
    long end = offset + Math.min(length, geometry.sizeBytes() - offset);
    List<ByteRange> extents = new ArrayList<>();
    if (offset == end || maxCount == 0) {
      return extents;
    }
    long first = geometry.clusterOf(offset);
    dirty.forEachRun(first, geometry.endTouched(end), (startCluster, endCluster) -> {
      long start = Math.max(offset, geometry.startOf(startCluster));
      long stop = Math.min(end, geometry.startOf(endCluster));
      extents.add(new ByteRange(start, stop - start));
      return extents.size() < maxCount;
    });
    return extents;
  }

  long dirtyClusters() {
    return dirty.cardinality();
  }

  long dirtyBytes() {
    long clusters = dirty.cardinality();
    if (clusters == 0) {
      return 0;
    }
    long last = geometry.clusterCount() - 1;
    // Only the last cluster may be partial; multiplying the others cannot overflow.
    return dirty.contains(last)
        ? (clusters - 1) * geometry.granularity() + geometry.bytesIn(last)
        : clusters * geometry.granularity();
  }

  /** Marks every cluster {@code [offset, offset + length)} touches, even partially. */
  void set(long offset, long length) {
    geometry.checkRange(offset, length);
    if (length > 0) {
      dirty.add(geometry.clusterOf(offset), geometry.endTouched(offset + length));
    }
  }

  /**
   * Clears the clusters wholly inside {@code [offset, offset + length)}, a partial last
   * cluster counting as whole when the range reaches {@code sizeBytes}.
   */
  void reset(long offset, long length) {
    geometry.checkRange(offset, length);
    dirty.remove(geometry.firstWhollyAfter(offset), geometry.endWhollyBefore(offset + length));
  }

  void setAll() {
    dirty.clear();
    dirty.add(0, geometry.clusterCount());
  }

  void clear() {
    dirty.clear();
  }

  void merge(BitmapContents other) {
    geometry.requireSame(other.geometry, "merge");
    dirty.or(other.dirty);
  }

  void andNot(BitmapContents other) {
    geometry.requireSame(other.geometry, "subtract");
    dirty.andNot(other.dirty);
  }

  /** Marks clusters {@code [first, end)}, clipped to the disk. */
  void setClusters(long first, long end) {
    dirty.add(first, Math.min(end, geometry.clusterCount()));
  }

  /** Cleans clusters {@code [first, end)}, clipped to the disk. */
  void resetClusters(long first, long end) {
    dirty.remove(first, Math.min(end, geometry.clusterCount()));
  }

  /** Replaces clusters {@code [first, end)} by the members of {@code clusters} in that range. */
  void replaceClusters(long first, long end, ClusterSet clusters) {
    long clippedEnd = Math.min(end, geometry.clusterCount());
    dirty.remove(first, clippedEnd);
    clusters.forEachRun(first, clippedEnd, (start, stop) -> {
      dirty.add(start, stop);
      return true;
    });
  }

  /** Whether no cluster in {@code [first, end)} is dirty. */
  boolean noneDirty(long first, long end) {
    long next = dirty.nextSet(first);
    return next < 0 || next >= end;
  }

  /** Whether every cluster in {@code [first, end)} is dirty. */
  boolean allDirty(long first, long end) {
    return dirty.nextClear(first) >= end;
  }

  /** Visits the dirty runs of clusters within {@code [first, end)}. */
  void forEachDirtyRun(long first, long end, RunVisitor visitor) {
    dirty.forEachRun(first, end, visitor);
  }

  void runOptimize() {
    dirty.runOptimize();
  }

  /** Estimated heap bytes of the bits, see {@link ClusterSet#memoryBytes()}. */
  long memoryBytes() {
    return dirty.memoryBytes();
  }

  /** Size of the bits in RoaringBitmap's serialized form. */
  long serializedSizeInBytes() {
    return dirty.serializedSizeInBytes();
  }
}
