package org.fleeced.bitmaps;

import java.util.List;

/**
 * Read-only queries on a dirty bitmap: one bit per <em>cluster</em> of {@link #granularity()}
 * guest bytes over a disk of {@link #sizeBytes()} bytes. The last cluster is partial when the
 * size is not a multiple of the granularity; it then covers only the bytes up to the size.
 *
 * <p>Implemented by {@link DirtyBitmap} and by its immutable {@link FrozenBitmap} copies, and by
 * nothing else, so that bitmaps can be combined without going through this interface.
 *
 * <p>Callers guarantee that offsets and lengths lie inside {@code [0, sizeBytes]} as each method
 * states; a violation is a programmer error and throws {@link IllegalArgumentException}. Every
 * method is exact for any size up to {@code Long.MAX_VALUE}: nothing overflows.
 *
 * <p>Each call sees one consistent state of the bitmap; two calls on a {@link DirtyBitmap} may
 * see different states. Take a {@link #frozenCopy()} to run several queries on one state.
 */
public sealed interface BitmapView permits DirtyBitmap, FrozenBitmap {

  /** Guest bytes covered, {@code 0 .. Long.MAX_VALUE}. */
  long sizeBytes();

  /** Bytes per bit: a power of two from 512 to 2^31. */
  long granularity();

  /**
   * Whether the cluster holding guest byte {@code offset} is dirty.
   *
   * @param offset in {@code [0, sizeBytes)}
   */
  boolean get(long offset);

  /**
   * Whether any cluster touched by {@code [offset, offset + length)} is dirty; false when {@code
   * length} is 0.
   *
   * @param offset in {@code [0, sizeBytes]}
   * @param length {@code >= 0}, with {@code offset + length <= sizeBytes}
   */
  boolean anyDirty(long offset, long length);

  /**
   * The first dirty byte in {@code [offset, end)}: {@code offset} itself when it lies in a dirty
   * cluster, otherwise the start of the first dirty cluster after it; -1 when there is none.
   *
   * @param offset in {@code [0, end]}
   * @param end in {@code [offset, sizeBytes]}
   */
  long nextDirty(long offset, long end);

  /** Like {@link #nextDirty} for clean clusters. */
  long nextClean(long offset, long end);

  /**
   * The state at {@code offset} and the length of the run of that state starting there, clipped
   * to {@code length}, as QEMU's {@code bdrv_dirty_bitmap_status}. The returned length is {@code
   * > 0} when {@code length > 0}; for {@code length == 0} the answer is {@code (false, 0)}.
   *
   * @param offset in {@code [0, sizeBytes]}
   * @param length {@code >= 0}, with {@code offset + length <= sizeBytes}
   */
  RangeStatus status(long offset, long length);

  /**
   * The dirty runs within {@code [offset, offset + length)}, clipped to that range and to
   * {@link #sizeBytes()}, in ascending order, adjacent runs merged, at most {@code maxCount} of
   * them (the first ones). Each returned range has a positive length.
   *
   * @param offset in {@code [0, sizeBytes]}
   * @param length {@code >= 0}; may reach past {@code sizeBytes}, the excess is ignored
   * @param maxCount {@code >= 0}
   */
  List<ByteRange> dirtyExtents(long offset, long length, int maxCount);

  /**
   * Bytes in dirty clusters: {@code dirtyClusters() * granularity()}, less the bytes a dirty
   * partial last cluster lacks. Never more than {@link #sizeBytes()}.
   */
  long dirtyBytes();

  /** Number of dirty clusters. */
  long dirtyClusters();

  /**
   * An immutable copy of the current state, safe to query from any thread without locks. Cheap:
   * O(1) apart from compacting the containers once (see {@link DirtyBitmap}).
   */
  FrozenBitmap frozenCopy();
}
