package org.fleeced.bitmaps;

/**
 * The mapping between guest byte offsets and cluster indices of one bitmap: cluster {@code c}
 * covers guest bytes {@code [c * granularity, min((c + 1) * granularity, sizeBytes))}, so the
 * last cluster is partial when {@code sizeBytes} is not a multiple of the granularity.
 *
 * <p>This is the only place where byte/cluster index arithmetic is written. Every method is
 * exact over the whole range {@code 0 <= sizeBytes <= Long.MAX_VALUE}: products are only
 * formed for clusters that start inside the disk, so they never overflow.
 *
 * @param sizeBytes guest bytes covered, {@code 0 .. Long.MAX_VALUE}
 * @param granularity bytes per cluster, a power of two from {@link #MIN_GRANULARITY} to
 *     {@link #MAX_GRANULARITY}
 */
record ClusterGeometry(long sizeBytes, long granularity) {

  /** Smallest granularity, as QEMU's persistent bitmaps (granularity_bits 9). */
  static final long MIN_GRANULARITY = 512;

  /** Largest granularity, as QEMU's persistent bitmaps (granularity_bits 31). */
  static final long MAX_GRANULARITY = 1L << 31;

  /** Validates both parameters; throws {@link IllegalArgumentException} naming the bad one. */
  ClusterGeometry {
    if (sizeBytes < 0) {
      throw new IllegalArgumentException("bitmap size must not be negative: " + sizeBytes);
    }
    if (granularity < MIN_GRANULARITY
        || granularity > MAX_GRANULARITY
        || Long.bitCount(granularity) != 1) {
      throw new IllegalArgumentException(
          "granularity must be a power of two from 512 to 2^31 bytes: " + granularity);
    }
  }

  /** Number of clusters, counting a partial last cluster; at most 2^54. */
  long clusterCount() {
    return Math.ceilDiv(sizeBytes, granularity);
  }

  /** The cluster holding guest byte {@code offset}. */
  long clusterOf(long offset) {
    return offset / granularity;
  }

  /** First guest byte of {@code cluster}, or {@code sizeBytes} for clusters at or past the end. */
  long startOf(long cluster) {
    return cluster >= clusterCount() ? sizeBytes : cluster * granularity;
  }

  /** Number of guest bytes in {@code cluster}: the granularity, less for a partial last one. */
  long bytesIn(long cluster) {
    return startOf(cluster + 1) - startOf(cluster);
  }

  /** One past the last cluster that {@code [offset, end)} touches (partially or wholly). */
  long endTouched(long end) {
    return Math.ceilDiv(end, granularity);
  }

  /** First cluster that starts at or after {@code offset}. */
  long firstWhollyAfter(long offset) {
    return Math.ceilDiv(offset, granularity);
  }

  /**
   * One past the last cluster that ends at or before {@code end}; a partial last cluster ends at
   * {@code sizeBytes}, so a range reaching the end covers it wholly.
   */
  long endWhollyBefore(long end) {
    return end == sizeBytes ? clusterCount() : end / granularity;
  }

  /** Ensures {@code 0 <= offset < sizeBytes}. */
  void checkOffset(long offset) {
    if (offset < 0 || offset >= sizeBytes) {
      throw new IllegalArgumentException(
          "offset " + offset + " outside bitmap of " + sizeBytes + " bytes");
    }
  }

  /** Ensures {@code [offset, offset + length)} lies within {@code [0, sizeBytes]}. */
  void checkRange(long offset, long length) {
    if (offset < 0 || length < 0 || offset > sizeBytes || length > sizeBytes - offset) {
      throw new IllegalArgumentException(
          "range [offset " + offset + ", length " + length + ") outside bitmap of "
              + sizeBytes + " bytes");
    }
  }

  /** Ensures {@code 0 <= offset <= end <= sizeBytes}. */
  void checkBounds(long offset, long end) {
    if (offset < 0 || end < offset || end > sizeBytes) {
      throw new IllegalArgumentException(
          "bounds [" + offset + ", " + end + ") outside bitmap of " + sizeBytes + " bytes");
    }
  }

  /**
   * Ensures {@code other} has the same size and granularity, the precondition of every
   * operation combining two bitmaps.
   *
   * @param operation what the caller is doing, for the message
   */
  void requireSame(ClusterGeometry other, String operation) {
    if (!equals(other)) {
      throw new IllegalArgumentException(
          "cannot " + operation + " bitmaps of different geometry: this one covers "
              + sizeBytes + " bytes at granularity " + granularity + ", the other "
              + other.sizeBytes + " bytes at granularity " + other.granularity);
    }
  }
}
