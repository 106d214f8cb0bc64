package org.fleeced.bitmaps;

import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;

/**
 * A dirty bitmap: which clusters of a disk were written since the bitmap was created or
 * cleared. The byte-addressed counterpart of QEMU's {@code BdrvDirtyBitmap}.
 *
 * <p><b>Design note.</b> One bit per cluster of {@link #granularity()} bytes, stored as a set
 * of cluster indices (32-bit RoaringBitmaps per 2^32 clusters plus runs of wholly dirty chunks,
 * see {@link ClusterSet}), so memory follows the number of dirty runs and clusters, not the disk
 * size. State per cluster is dirty or clean; the bitmap as a whole is enabled or disabled:
 *
 * <ul>
 *   <li>{@link #track} (the write path) marks the touched clusters when enabled, and does
 *       nothing when disabled. {@link #set} marks them in either state.
 *   <li>{@link #reset} cleans only the clusters wholly inside the range, as QEMU does, so a
 *       partial cluster that may still hold a change stays dirty; a range reaching {@link
 *       #sizeBytes()} covers a partial last cluster wholly.
 *   <li>{@link #merge}, {@link #andNot}, {@link #clear}, {@link #setAll}, {@link #copy} act in
 *       either state.
 * </ul>
 *
 * <p><b>Frozen copies are copy-on-write.</b> {@link #frozenCopy()} hands the current bits to an
 * immutable {@link FrozenBitmap} and marks them shared; the next change to this bitmap copies
 * them first. Taking a frozen copy is therefore O(1) (plus a one-time {@code runOptimize}), and
 * the copy cost is paid once by the first change after it. {@link #copy()} shares the same way.
 *
 * <p><b>Thread safety.</b> Every method is atomic with respect to every other:
 *
 * <ul>
 *   <li>Changes hold the write lock of a {@link ReentrantReadWriteLock}; queries hold its read
 *       lock, so many readers run in parallel. Virtual threads park on it without pinning their
 *       carrier. Nothing under the lock does I/O, calls foreign code or waits for anything else.
 *   <li>{@link #merge} and {@link #andNot} first take a frozen copy of the other bitmap, then
 *       lock this one: no thread ever holds two bitmaps' locks, so {@code a.merge(b)} and {@code
 *       b.merge(a)} in parallel cannot deadlock, and {@code a.merge(a)} is fine.
 *   <li>Two successive queries may see different states; for several queries on one state,
 *       query a {@link #frozenCopy()}, which needs no lock at all.
 *   <li>{@link #sizeBytes()} and {@link #granularity()} never change and take no lock.
 * </ul>
 *
 * <p>Deliberately not here: persistence and the IN_USE/AUTO flags (the qcow2 driver, using
 * {@link Qcow2BitmapLayout}), names, busy/successor states for backups (checkpoints), and
 * QEMU's dirty-bitmap-of-the-bitmap (migration). Ranges are validated as programmer errors:
 * the protocol edge has already clipped client requests.
 */
public final class DirtyBitmap implements BitmapView {

  private final ClusterGeometry geometry;

  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  /** The bits. Guarded by {@link #lock}; never modified in place while {@link #shared}. */
  private BitmapContents contents;

  /** Whether frozen copies or other bitmaps may hold {@link #contents}. Guarded by lock. */
  private boolean shared;

  /** Whether {@link #track} records writes. Guarded by {@link #lock}. */
  private boolean enabled;

  /**
   * A new, clean and enabled bitmap.
   *
   * @param sizeBytes guest bytes covered, {@code 0 .. Long.MAX_VALUE}
   * @param granularity bytes per bit, a power of two from 512 to 2^31
   * @throws IllegalArgumentException for a negative size or an invalid granularity
   */
  public DirtyBitmap(long sizeBytes, long granularity) {
    this(new BitmapContents(new ClusterGeometry(sizeBytes, granularity)), false, true);
  }

  /** An enabled bitmap sharing {@code contents}, which nobody may change any more. */
  DirtyBitmap(BitmapContents contents) {
    this(contents, true, true);
  }

  private DirtyBitmap(BitmapContents contents, boolean shared, boolean enabled) {
    this.geometry = contents.geometry();
    this.contents = contents;
    this.shared = shared;
    this.enabled = enabled;
  }

  @Override
  public long sizeBytes() {
    return geometry.sizeBytes();
  }

  @Override
  public long granularity() {
    return geometry.granularity();
  }

  /** Whether {@link #track} records writes; true for a new bitmap. */
  public boolean isEnabled() {
    return readBoolean(unused -> enabled);
  }

  /** Enables or disables {@link #track}; the bits stay as they are. */
  public void setEnabled(boolean enabled) {
    lock.writeLock().lock();
    try {
      this.enabled = enabled;
    } finally {
      lock.writeLock().unlock();
    }
  }

  /**
   * Records a guest write to {@code [offset, offset + length)}: as {@link #set} when enabled,
   * nothing when disabled. The check and the change are one atomic step.
   *
   * @param offset in {@code [0, sizeBytes]}
   * @param length {@code >= 0}, with {@code offset + length <= sizeBytes}
   */
  public void track(long offset, long length) {
    geometry.checkRange(offset, length);
    lock.writeLock().lock();
    try {
      if (enabled) {
        setLocked(offset, length);
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  /**
   * Marks dirty every cluster {@code [offset, offset + length)} touches, even partially, whether
   * enabled or not. A zero length changes nothing.
   *
   * @param offset in {@code [0, sizeBytes]}
   * @param length {@code >= 0}, with {@code offset + length <= sizeBytes}
   */
  public void set(long offset, long length) {
    geometry.checkRange(offset, length);
    lock.writeLock().lock();
    try {
      setLocked(offset, length);
    } finally {
      lock.writeLock().unlock();
    }
  }

  private void setLocked(long offset, long length) {
    // Rewrites of dirty clusters are common; they must not copy shared bits for nothing.
    if (shared && !contents.anyClean(offset, length)) {
      return;
    }
    ownContentsLocked().set(offset, length);
  }

  /**
   * Cleans the clusters wholly inside {@code [offset, offset + length)}; a partial last cluster
   * counts as wholly inside when the range reaches {@link #sizeBytes()}. Clusters the range only
   * partly covers stay as they are, as in QEMU.
   *
   * @param offset in {@code [0, sizeBytes]}
   * @param length {@code >= 0}, with {@code offset + length <= sizeBytes}
   */
  public void reset(long offset, long length) {
    geometry.checkRange(offset, length);
    change(bits -> bits.reset(offset, length));
  }

  /** Cleans every cluster. */
  public void clear() {
    change(BitmapContents::clear);
  }

  /** Marks every cluster dirty, whether enabled or not. */
  public void setAll() {
    change(BitmapContents::setAll);
  }

  /**
   * Marks dirty every cluster dirty in {@code other} (bitwise or), whether enabled or not.
   * {@code other} may be this bitmap. Atomic for this bitmap; {@code other} is read at one
   * instant just before.
   *
   * @throws IllegalArgumentException when {@code other} has another size or granularity
   */
  public void merge(BitmapView other) {
    FrozenBitmap source = other.frozenCopy();
    geometry.requireSame(source.contents().geometry(), "merge");
    change(bits -> {
      bits.merge(source.contents());
      bits.runOptimize();
    });
  }

  /**
   * Cleans every cluster dirty in {@code other} (this and not other). Same rules as {@link
   * #merge}.
   *
   * @throws IllegalArgumentException when {@code other} has another size or granularity
   */
  public void andNot(BitmapView other) {
    FrozenBitmap source = other.frozenCopy();
    geometry.requireSame(source.contents().geometry(), "subtract");
    change(bits -> {
      bits.andNot(source.contents());
      bits.runOptimize();
    });
  }

  /** An independent bitmap with the same geometry, bits and enabled state. */
  public DirtyBitmap copy() {
    lock.writeLock().lock();
    try {
      return new DirtyBitmap(shareContentsLocked(), true, enabled);
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** {@inheritDoc} Compacts the bits with {@code runOptimize} before sharing them. */
  @Override
  public FrozenBitmap frozenCopy() {
    lock.writeLock().lock();
    try {
      return new FrozenBitmap(shareContentsLocked());
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public boolean get(long offset) {
    return readBoolean(bits -> bits.get(offset));
  }

  @Override
  public boolean anyDirty(long offset, long length) {
    return readBoolean(bits -> bits.anyDirty(offset, length));
  }

  @Override
  public long nextDirty(long offset, long end) {
    return readLong(bits -> bits.nextDirty(offset, end));
  }

  @Override
  public long nextClean(long offset, long end) {
    return readLong(bits -> bits.nextClean(offset, end));
  }

  @Override
  public RangeStatus status(long offset, long length) {
    return read(bits -> bits.status(offset, length));
  }

  @Override
  public List<ByteRange> dirtyExtents(long offset, long length, int maxCount) {
    return read(bits -> bits.dirtyExtents(offset, length, maxCount));
  }

  @Override
  public long dirtyBytes() {
    return readLong(BitmapContents::dirtyBytes);
  }

  @Override
  public long dirtyClusters() {
    return readLong(BitmapContents::dirtyClusters);
  }

  @Override
  public String toString() {
    return "DirtyBitmap[sizeBytes=" + sizeBytes() + ", granularity=" + granularity()
        + ", enabled=" + isEnabled() + ", dirtyClusters=" + dirtyClusters() + "]";
  }

  /** Runs {@code query} on the bits under the read lock, for package code. */
  <T> T read(Function<BitmapContents, T> query) {
    lock.readLock().lock();
    try {
      return query.apply(contents);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Runs {@code change} on this bitmap's own (unshared) bits under the write lock. */
  void change(Consumer<BitmapContents> change) {
    lock.writeLock().lock();
    try {
      change.accept(ownContentsLocked());
    } finally {
      lock.writeLock().unlock();
    }
  }

  private long readLong(ToLongFunction<BitmapContents> query) {
    lock.readLock().lock();
    try {
      return query.applyAsLong(contents);
    } finally {
      lock.readLock().unlock();
    }
  }

  private boolean readBoolean(Predicate<BitmapContents> query) {
    lock.readLock().lock();
    try {
      return query.test(contents);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** The bits, copied first if they are shared, so that the caller may change them. */
  private BitmapContents ownContentsLocked() {
    if (shared) {
      contents = contents.copy();
      shared = false;
    }
    return contents;
  }

  /** The bits, compacted and marked shared, so that this bitmap copies them before a change. */
  private BitmapContents shareContentsLocked() {
    if (!shared) {
      contents.runOptimize();
      shared = true;
    }
    return contents;
  }
}
