package org.fleeced.bitmaps;

import java.util.Map;
import java.util.TreeMap;
import org.roaringbitmap.RoaringBitmap;

/**
 * A set of cluster indices in {@code [0, 2^62)}: the storage behind every dirty bitmap.
 *
 * <p>Design note. An index is split into a <em>chunk</em> (its bits 32 and up) and a 32-bit
 * low part. Every chunk is in exactly one of three states:
 *
 * <ul>
 *   <li><b>empty</b>: absent from both structures below;
 *   <li><b>full</b>: inside a run of {@link #fullChunks}, all 2^32 indices set, no storage;
 *   <li><b>partial</b>: a 32-bit {@link RoaringBitmap} of the low parts in {@link
 *       #partialChunks}, never empty and never full.
 * </ul>
 *
 * Operations keep that invariant: adding to a full chunk does nothing, filling a partial chunk
 * promotes it to full, removing from a full chunk demotes it to a partial bitmap holding the
 * rest, emptying a partial chunk drops it.
 *
 * <p>Why not {@code Roaring64Bitmap} or {@code Roaring64NavigableMap}: in RoaringBitmap 1.3.0
 * neither has a next-absent-value search or a range removal, which the extent queries and
 * {@code reset} need, and both store a wholly set range as one container per 2^16 indices, so a
 * whole 2^63-byte disk at 512-byte granularity (2^54 clusters) would need 2^38 containers. Here
 * it is one interval. A disk below 2^32 clusters (256 TiB at 64 KiB) is a single partial chunk,
 * that is a plain {@link RoaringBitmap}.
 *
 * <p>Not thread-safe: {@link DirtyBitmap} guards it with its lock, {@link FrozenBitmap} never
 * changes it. Read-only methods do not modify any state, so concurrent readers are safe.
 */
final class ClusterSet {

  static final int CHUNK_BITS = 32;
  static final long CHUNK_SIZE = 1L << CHUNK_BITS;
  private static final long LOW_MASK = CHUNK_SIZE - 1;

  /** Rough heap cost of a TreeMap entry with its boxed key, for {@link #memoryBytes()}. */
  private static final long ENTRY_OVERHEAD_BYTES = 64;

  /** chunk -> low parts of its members; only partial chunks (never empty, never full). */
  private final TreeMap<Long, RoaringBitmap> partialChunks;

  /** Runs of full chunks; disjoint from the keys of {@link #partialChunks}. */
  private final IntervalSet fullChunks;

  ClusterSet() {
    this.partialChunks = new TreeMap<>();
    this.fullChunks = new IntervalSet();
  }

  private ClusterSet(ClusterSet source) {
    this.partialChunks = new TreeMap<>();
    source.partialChunks.forEach((chunk, bits) -> partialChunks.put(chunk, bits.clone()));
    this.fullChunks = source.fullChunks.copy();
  }

  /** A deep, independent copy. */
  ClusterSet copy() {
    return new ClusterSet(this);
  }

  boolean isEmpty() {
    return partialChunks.isEmpty() && fullChunks.isEmpty();
  }

  boolean contains(long cluster) {
    long chunk = cluster >>> CHUNK_BITS;
    if (fullChunks.contains(chunk)) {
      return true;
    }
    RoaringBitmap bits = partialChunks.get(chunk);
    return bits != null && bits.contains((int) cluster);
  }

  /** The smallest member {@code >= from}, or -1 when there is none. */
  long nextSet(long from) {
    long chunk = from >>> CHUNK_BITS;
    if (fullChunks.contains(chunk)) {
      return from;
    }
    RoaringBitmap bits = partialChunks.get(chunk);
    if (bits != null) {
      long low = bits.nextValue((int) from);
      if (low >= 0) {
        return startOf(chunk) + low;
      }
    }
    Map.Entry<Long, RoaringBitmap> next = partialChunks.higherEntry(chunk);
    long partialFirst = next == null
        ? -1
        : startOf(next.getKey()) + Integer.toUnsignedLong(next.getValue().first());
    long fullChunk = fullChunks.nextRunStartAfter(chunk);
    if (fullChunk < 0) {
      return partialFirst;
    }
    return partialFirst < 0 ? startOf(fullChunk) : Math.min(partialFirst, startOf(fullChunk));
  }

  /** The smallest non-member {@code >= from}. */
  long nextClear(long from) {
    long cluster = from;
    while (true) {
      long chunk = cluster >>> CHUNK_BITS;
      long fullRunEnd = fullChunks.endOfRunContaining(chunk);
      if (fullRunEnd >= 0) {
        cluster = startOf(fullRunEnd);
        continue;
      }
      RoaringBitmap bits = partialChunks.get(chunk);
      if (bits == null) {
        return cluster;
      }
      long low = nextAbsentLow(bits, cluster & LOW_MASK);
      if (low >= 0) {
        return startOf(chunk) + low;
      }
      cluster = startOf(chunk + 1);
    }
  }

  /** Number of members. */
  long cardinality() {
    long count = fullChunks.total() << CHUNK_BITS;
    for (RoaringBitmap bits : partialChunks.values()) {
      count += bits.getLongCardinality();
    }
    return count;
  }

  /**
   * Visits the maximal runs of members overlapping {@code [from, to)}, clipped to it, in
   * ascending order; runs that meet at a chunk boundary are reported as one.
   */
  void forEachRun(long from, long to, RunVisitor visitor) {
    long start = nextSet(from);
    while (start >= 0 && start < to) {
      long end = Math.min(nextClear(start), to);
      if (!visitor.visit(start, end) || end == to) {
        return;
      }
      start = nextSet(end);
    }
  }

  /** Adds {@code [start, end)}. */
  void add(long start, long end) {
    splitByChunk(start, end, this::addPiece, this::addWholeChunks);
  }

  /** Removes {@code [start, end)}. */
  void remove(long start, long end) {
    splitByChunk(start, end, this::removePiece, this::removeWholeChunks);
  }

  void clear() {
    partialChunks.clear();
    fullChunks.clear();
  }

  /** Adds every member of {@code other}; {@code other} is only read. */
  void or(ClusterSet other) {
    other.fullChunks.forEachRun(0, Long.MAX_VALUE, (first, end) -> {
      addWholeChunks(first, end);
      return true;
    });
    for (Map.Entry<Long, RoaringBitmap> entry : other.partialChunks.entrySet()) {
      long chunk = entry.getKey();
      if (fullChunks.contains(chunk)) {
        continue;
      }
      RoaringBitmap bits = partialChunks.get(chunk);
      if (bits == null) {
        partialChunks.put(chunk, entry.getValue().clone());
      } else {
        bits.or(entry.getValue());
        promoteIfFull(chunk, bits);
      }
    }
  }

  /** Removes every member of {@code other}; {@code other} is only read. */
  void andNot(ClusterSet other) {
    other.fullChunks.forEachRun(0, Long.MAX_VALUE, (first, end) -> {
      removeWholeChunks(first, end);
      return true;
    });
    for (Map.Entry<Long, RoaringBitmap> entry : other.partialChunks.entrySet()) {
      long chunk = entry.getKey();
      RoaringBitmap bits = bitsForRemoval(chunk);
      if (bits != null) {
        bits.andNot(entry.getValue());
        dropIfEmpty(chunk, bits);
      }
    }
  }

  /** Converts containers to run-length form where that is smaller (RoaringBitmap's own rule). */
  void runOptimize() {
    partialChunks.values().forEach(RoaringBitmap::runOptimize);
  }

  /** Estimated heap bytes: RoaringBitmap's own estimate plus the two maps' entries. */
  long memoryBytes() {
    long bytes = (long) (partialChunks.size() + fullChunks.runCount()) * ENTRY_OVERHEAD_BYTES;
    for (RoaringBitmap bits : partialChunks.values()) {
      bytes += bits.getLongSizeInBytes();
    }
    return bytes;
  }

  /** Bytes of the partial chunks in RoaringBitmap's portable serialization format. */
  long serializedSizeInBytes() {
    long bytes = 0;
    for (RoaringBitmap bits : partialChunks.values()) {
      bytes += bits.serializedSizeInBytes();
    }
    return bytes;
  }

  /**
   * {@code bits.nextAbsentValue(low)}, working around RoaringBitmap 1.3.0's {@code
   * computeNextAbsentValue}: it compares {@code fromValue < containerKey << 16} as signed ints,
   * so for an absent {@code low} below 2^31 whose next container lies at or above 2^31 it skips
   * to that container. An absent value is its own answer; for a present one the container
   * holding it is found first and the comparison is harmless.
   *
   * @return the first absent low part {@code >= low}, or -1 when all up to 2^32 - 1 are present
   */
  private static long nextAbsentLow(RoaringBitmap bits, long low) {
    return bits.contains((int) low) ? bits.nextAbsentValue((int) low) : low;
  }

  private static long startOf(long chunk) {
    return chunk << CHUNK_BITS;
  }

  /** Does something to a part of one chunk: low parts {@code [low, high)}, never all of it. */
  private interface PieceAction {
    void apply(long chunk, long low, long high);
  }

  /** Does something to whole chunks {@code [first, end)}. */
  private interface WholeChunksAction {
    void apply(long first, long end);
  }

  /** Cuts {@code [start, end)} into a partial head chunk, whole chunks, a partial tail chunk. */
  private static void splitByChunk(
      long start, long end, PieceAction piece, WholeChunksAction wholeChunks) {
    if (start >= end) {
      return;
    }
    long firstWhole = Math.ceilDiv(start, CHUNK_SIZE);
    long endWhole = end >>> CHUNK_BITS;
    if (firstWhole > endWhole) {
      piece.apply(endWhole, start & LOW_MASK, end & LOW_MASK);
      return;
    }
    if (start < startOf(firstWhole)) {
      piece.apply(firstWhole - 1, start & LOW_MASK, CHUNK_SIZE);
    }
    if (firstWhole < endWhole) {
      wholeChunks.apply(firstWhole, endWhole);
    }
    if (end > startOf(endWhole)) {
      piece.apply(endWhole, 0, end & LOW_MASK);
    }
  }

  private void addPiece(long chunk, long low, long high) {
    if (fullChunks.contains(chunk)) {
      return;
    }
    RoaringBitmap bits = partialChunks.computeIfAbsent(chunk, unused -> new RoaringBitmap());
    bits.add(low, high);
    promoteIfFull(chunk, bits);
  }

  private void addWholeChunks(long first, long end) {
    partialChunks.subMap(first, end).clear();
    fullChunks.add(first, end);
  }

  private void removePiece(long chunk, long low, long high) {
    RoaringBitmap bits = bitsForRemoval(chunk);
    if (bits != null) {
      bits.remove(low, high);
      dropIfEmpty(chunk, bits);
    }
  }

  private void removeWholeChunks(long first, long end) {
    partialChunks.subMap(first, end).clear();
    fullChunks.remove(first, end);
  }

  /**
   * The bitmap to remove members of {@code chunk} from, demoting a full chunk to a partial one
   * (a full 32-bit RoaringBitmap: 2^16 one-run containers); null when the chunk is empty.
   */
  private RoaringBitmap bitsForRemoval(long chunk) {
    if (!fullChunks.contains(chunk)) {
      return partialChunks.get(chunk);
    }
    fullChunks.remove(chunk, chunk + 1);
    RoaringBitmap bits = new RoaringBitmap();
    bits.add(0L, CHUNK_SIZE);
    partialChunks.put(chunk, bits);
    return bits;
  }

  private void promoteIfFull(long chunk, RoaringBitmap bits) {
    // first() and last() are cheap and rule out almost every partial chunk before the count.
    // Not bits.contains(0L, CHUNK_SIZE): in RoaringBitmap 1.3.0 it answers true for a chunk
    // missing the last 2^16 - 1 values of its second-to-last container.
    if (bits.first() == 0 && bits.last() == -1 && bits.getLongCardinality() == CHUNK_SIZE) {
      partialChunks.remove(chunk);
      fullChunks.add(chunk, chunk + 1);
    }
  }

  private void dropIfEmpty(long chunk, RoaringBitmap bits) {
    if (bits.isEmpty()) {
      partialChunks.remove(chunk);
    }
  }
}
