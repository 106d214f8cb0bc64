package org.fleeced.bitmaps;

import java.util.List;

/**
 * An immutable state of a {@link DirtyBitmap}, taken by {@link BitmapView#frozenCopy()}.
 *
 * <p>Thread safety: nothing ever changes the bits after construction (the bitmap it came from
 * copies its bits before its next change instead), and they are reachable only through a final
 * field, so any thread may query a frozen bitmap at any time without locks.
 */
public final class FrozenBitmap implements BitmapView {

  /** Never modified after construction; may be shared with other frozen copies. */
  private final BitmapContents contents;

  FrozenBitmap(BitmapContents contents) {
    this.contents = contents;
  }

  /** The frozen bits, for package code that combines or serializes bitmaps; read only. */
  BitmapContents contents() {
    return contents;
  }

  @Override
  public long sizeBytes() {
    return contents.geometry().sizeBytes();
  }

  @Override
  public long granularity() {
    return contents.geometry().granularity();
  }

  @Override
  public boolean get(long offset) {
    return contents.get(offset);
  }

  @Override
  public boolean anyDirty(long offset, long length) {
    return contents.anyDirty(offset, length);
  }

  @Override
  public long nextDirty(long offset, long end) {
    return contents.nextDirty(offset, end);
  }

  @Override
  public long nextClean(long offset, long end) {
    return contents.nextClean(offset, end);
  }

  @Override
  public RangeStatus status(long offset, long length) {
    return contents.status(offset, length);
  }

  @Override
  public List<ByteRange> dirtyExtents(long offset, long length, int maxCount) {
    return contents.dirtyExtents(offset, length, maxCount);
  }

  @Override
  public long dirtyBytes() {
    return contents.dirtyBytes();
  }

  @Override
  public long dirtyClusters() {
    return contents.dirtyClusters();
  }

  /** Returns this bitmap: it is already immutable. */
  @Override
  public FrozenBitmap frozenCopy() {
    return this;
  }

  /** A new, enabled {@link DirtyBitmap} with these bits, sharing them until either changes. */
  public DirtyBitmap thaw() {
    return new DirtyBitmap(contents);
  }

  @Override
  public String toString() {
    return "FrozenBitmap[sizeBytes=" + sizeBytes() + ", granularity=" + granularity()
        + ", dirtyClusters=" + dirtyClusters() + "]";
  }
}
