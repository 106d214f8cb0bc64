package org.fleeced.bitmaps;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** One test per rule of {@link DirtyBitmap}'s contract; the random model test covers the mix. */
class DirtyBitmapTest {

  private static final long G = 4096;

  /** 10 full clusters and a partial one of 100 bytes. */
  private static DirtyBitmap tenAndAHalf() {
    return new DirtyBitmap(10 * G + 100, G);
  }

  private static List<ByteRange> extents(BitmapView bitmap) {
    return bitmap.dirtyExtents(0, bitmap.sizeBytes(), Integer.MAX_VALUE);
  }

  @Test
  void newBitmapIsCleanAndEnabled() {
    var bitmap = tenAndAHalf();
    assertTrue(bitmap.isEnabled());
    assertEquals(0, bitmap.dirtyClusters());
    assertEquals(0, bitmap.dirtyBytes());
    assertEquals(List.of(), extents(bitmap));
    assertEquals(0, bitmap.nextClean(0, bitmap.sizeBytes()));
    assertEquals(-1, bitmap.nextDirty(0, bitmap.sizeBytes()));
  }

  @Test
  void constructorRejectsBadGeometry() {
    assertThrows(IllegalArgumentException.class, () -> new DirtyBitmap(1 << 20, 256));
    assertThrows(IllegalArgumentException.class, () -> new DirtyBitmap(1 << 20, 1L << 32));
    assertThrows(IllegalArgumentException.class, () -> new DirtyBitmap(1 << 20, 3000));
    assertThrows(IllegalArgumentException.class, () -> new DirtyBitmap(-1, 512));
  }

  @Test
  void zeroSizedBitmapHasNothingToMark() {
    var bitmap = new DirtyBitmap(0, 512);
    bitmap.setAll();
    bitmap.set(0, 0);
    assertEquals(0, bitmap.dirtyClusters());
    assertEquals(List.of(), bitmap.dirtyExtents(0, 100, 10));
    assertEquals(new RangeStatus(false, 0), bitmap.status(0, 0));
    assertThrows(IllegalArgumentException.class, () -> bitmap.get(0));
  }

  @Test
  void setMarksEveryClusterTheRangeTouches() {
    var bitmap = tenAndAHalf();
    bitmap.set(G - 1, 2);
    assertEquals(List.of(new ByteRange(0, 2 * G)), extents(bitmap));
    assertTrue(bitmap.get(0) && bitmap.get(2 * G - 1));
    assertFalse(bitmap.get(2 * G));
  }

  @Test
  void zeroLengthChangesNothing() {
    var bitmap = tenAndAHalf();
    bitmap.set(G + 5, 0);
    bitmap.track(G + 5, 0);
    bitmap.set(bitmap.sizeBytes(), 0);
    assertEquals(0, bitmap.dirtyClusters());
    bitmap.setAll();
    bitmap.reset(G, 0);
    assertEquals(11, bitmap.dirtyClusters());
    assertFalse(bitmap.anyDirty(0, 0));
  }

  @Test
  void partialLastClusterCountsOnlyItsBytes() {
    var bitmap = tenAndAHalf();
    bitmap.set(bitmap.sizeBytes() - 1, 1);
    assertEquals(1, bitmap.dirtyClusters());
    assertEquals(100, bitmap.dirtyBytes());
    assertEquals(List.of(new ByteRange(10 * G, 100)), bitmap.dirtyExtents(0, Long.MAX_VALUE, 5));
    assertEquals(10 * G, bitmap.nextDirty(0, bitmap.sizeBytes()));
    assertEquals(new RangeStatus(true, 100), bitmap.status(10 * G, 100));
    bitmap.setAll();
    assertEquals(10 * G + 100, bitmap.dirtyBytes());
  }

  @Test
  void resetClearsOnlyWholeClusters() {
    var bitmap = tenAndAHalf();
    bitmap.setAll();
    bitmap.reset(G / 2, 2 * G);
    assertEquals(List.of(new ByteRange(0, G), new ByteRange(2 * G, 8 * G + 100)), extents(bitmap), "only [G, 2G) lies wholly inside");
    bitmap.reset(3 * G, G);
    assertFalse(bitmap.get(3 * G));
    bitmap.reset(10 * G + 1, 99);
    assertTrue(bitmap.get(10 * G), "a range inside the partial last cluster does not cover it");
  }

  @Test
  void resetReachingTheEndClearsThePartialLastCluster() {
    var bitmap = tenAndAHalf();
    bitmap.setAll();
    bitmap.reset(10 * G, 100);
    assertFalse(bitmap.get(10 * G));
    assertEquals(10, bitmap.dirtyClusters());
  }

  @Test
  void trackRecordsOnlyWhileEnabledButSetAlwaysMarks() {
    var bitmap = tenAndAHalf();
    bitmap.setEnabled(false);
    assertFalse(bitmap.isEnabled());
    bitmap.track(0, G);
    assertEquals(0, bitmap.dirtyClusters());
    bitmap.set(G, 1);
    assertEquals(1, bitmap.dirtyClusters());
    bitmap.setEnabled(true);
    bitmap.track(0, 1);
    assertEquals(2, bitmap.dirtyClusters());
  }

  @Test
  void nextDirtyAndNextCleanStartAtTheOffsetInsideAMatchingCluster() {
    var bitmap = tenAndAHalf();
    bitmap.set(2 * G, 3 * G);
    assertEquals(2 * G + 7, bitmap.nextDirty(2 * G + 7, 6 * G));
    assertEquals(2 * G, bitmap.nextDirty(5, 6 * G));
    assertEquals(-1, bitmap.nextDirty(5, 2 * G), "end is exclusive");
    assertEquals(-1, bitmap.nextDirty(3 * G, 3 * G), "empty range");
    assertEquals(5 * G, bitmap.nextClean(2 * G + 7, 6 * G));
    assertEquals(-1, bitmap.nextClean(2 * G, 5 * G));
    assertEquals(17, bitmap.nextClean(17, 6 * G));
  }

  @Test
  void statusReportsTheRunAtTheOffsetClippedToTheLength() {
    var bitmap = tenAndAHalf();
    bitmap.set(2 * G, 3 * G);
    assertEquals(new RangeStatus(false, 2 * G - 10), bitmap.status(10, 9 * G));
    assertEquals(new RangeStatus(true, 3 * G - 1), bitmap.status(2 * G + 1, 8 * G));
    assertEquals(new RangeStatus(true, 5), bitmap.status(2 * G, 5));
    assertEquals(new RangeStatus(false, 5 * G + 100), bitmap.status(5 * G, 5 * G + 100));
  }

  @Test
  void dirtyExtentsAreMergedClippedAndLimited() {
    var bitmap = tenAndAHalf();
    bitmap.set(0, G);
    bitmap.set(G, G);
    bitmap.set(4 * G, 1);
    bitmap.set(8 * G, 1);
    assertEquals(List.of(new ByteRange(0, 2 * G), new ByteRange(4 * G, G), new ByteRange(8 * G, G)), extents(bitmap));
    assertEquals(List.of(new ByteRange(100, 2 * G - 100), new ByteRange(4 * G, 10)), bitmap.dirtyExtents(100, 4 * G - 90, 10));
    assertEquals(List.of(new ByteRange(0, 2 * G)), bitmap.dirtyExtents(0, bitmap.sizeBytes(), 1));
    assertEquals(List.of(), bitmap.dirtyExtents(0, bitmap.sizeBytes(), 0));
    assertEquals(List.of(), bitmap.dirtyExtents(bitmap.sizeBytes(), 10, 5));
  }

  @Test
  void anyDirtySeesPartiallyCoveredClusters() {
    var bitmap = tenAndAHalf();
    bitmap.set(3 * G, 1);
    assertTrue(bitmap.anyDirty(4 * G - 1, 1));
    assertFalse(bitmap.anyDirty(4 * G, 6 * G));
    assertFalse(bitmap.anyDirty(0, 3 * G));
  }

  @Test
  void rangesOutsideTheDiskAreRejectedWithoutOverflow() {
    var bitmap = tenAndAHalf();
    long size = bitmap.sizeBytes();
    assertThrows(IllegalArgumentException.class, () -> bitmap.set(size, 1));
    assertThrows(IllegalArgumentException.class, () -> bitmap.track(1, Long.MAX_VALUE));
    assertThrows(IllegalArgumentException.class, () -> bitmap.reset(-1, 1));
    assertThrows(IllegalArgumentException.class, () -> bitmap.get(size));
    assertThrows(IllegalArgumentException.class, () -> bitmap.nextDirty(5, 4));
    assertThrows(IllegalArgumentException.class, () -> bitmap.status(0, size + 1));
    assertThrows(IllegalArgumentException.class, () -> bitmap.dirtyExtents(size + 1, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> bitmap.dirtyExtents(0, 1, -1));
  }

  @Test
  void granularity2GiBOverTheLargestDisk() {
    long g = 1L << 31;
    var bitmap = new DirtyBitmap(Long.MAX_VALUE, g);
    long lastStart = ((1L << 32) - 1) * g;
    bitmap.set(Long.MAX_VALUE - 1, 1);
    assertEquals(g - 1, bitmap.dirtyBytes());
    assertEquals(lastStart, bitmap.nextDirty(0, Long.MAX_VALUE));
    assertEquals(new RangeStatus(false, lastStart), bitmap.status(0, Long.MAX_VALUE));
    bitmap.setAll();
    assertEquals(1L << 32, bitmap.dirtyClusters());
    assertEquals(Long.MAX_VALUE, bitmap.dirtyBytes());
    bitmap.reset(0, Long.MAX_VALUE);
    assertEquals(0, bitmap.dirtyClusters());
  }

  @Test
  void granularity512OverTheLargestDiskAcrossChunks() {
    var bitmap = new DirtyBitmap(Long.MAX_VALUE, 512);
    bitmap.setAll();
    assertEquals(1L << 54, bitmap.dirtyClusters());
    assertEquals(Long.MAX_VALUE, bitmap.dirtyBytes());
    long hole = (3L << 32) * 512 - 4096;
    bitmap.reset(hole, 8192);
    assertEquals((1L << 54) - 16, bitmap.dirtyClusters());
    assertEquals(hole, bitmap.nextClean(0, Long.MAX_VALUE));
    assertEquals(hole + 8192, bitmap.nextDirty(hole, Long.MAX_VALUE));
    assertEquals(
        List.of(new ByteRange(0, hole), new ByteRange(hole + 8192, Long.MAX_VALUE - hole - 8192)),
        extents(bitmap));
    assertEquals(new RangeStatus(true, Long.MAX_VALUE - hole - 8192), bitmap.frozenCopy().status(hole + 8192, Long.MAX_VALUE - hole - 8192));
  }

  @Test
  void mergeAndAndNotCombineBits() {
    var a = tenAndAHalf();
    var b = tenAndAHalf();
    a.set(0, 2 * G);
    b.set(G, 2 * G);
    a.merge(b);
    assertEquals(List.of(new ByteRange(0, 3 * G)), extents(a));
    a.andNot(b.frozenCopy());
    assertEquals(List.of(new ByteRange(0, G)), extents(a));
    a.setEnabled(false);
    a.merge(b);
    assertEquals(3, a.dirtyClusters(), "merge ignores the enabled flag");
  }

  @Test
  void combiningWithItselfIsFine() {
    var a = tenAndAHalf();
    a.set(0, G);
    a.merge(a);
    assertEquals(1, a.dirtyClusters());
    a.andNot(a);
    assertEquals(0, a.dirtyClusters());
  }

  @Test
  void combiningDifferentGeometriesIsRejected() {
    var a = tenAndAHalf();
    var error = assertThrows(IllegalArgumentException.class, () -> a.merge(new DirtyBitmap(a.sizeBytes(), 2 * G)));
    assertTrue(error.getMessage().contains("granularity " + G) && error.getMessage().contains("granularity " + 2 * G), error.getMessage());
    assertThrows(IllegalArgumentException.class, () -> a.andNot(new DirtyBitmap(a.sizeBytes() + 1, G)));
  }

  @Test
  void copyIsIndependentAndKeepsTheEnabledState() {
    var a = tenAndAHalf();
    a.set(0, G);
    a.setEnabled(false);
    var copy = a.copy();
    assertFalse(copy.isEnabled());
    copy.set(5 * G, 1);
    a.reset(0, G);
    assertEquals(0, a.dirtyClusters());
    assertEquals(List.of(new ByteRange(0, G), new ByteRange(5 * G, G)), extents(copy));
  }

  @Test
  void frozenCopyNeverChanges() {
    var bitmap = tenAndAHalf();
    bitmap.set(0, G);
    FrozenBitmap frozen = bitmap.frozenCopy();
    bitmap.set(3 * G, G);
    bitmap.reset(0, G);
    bitmap.merge(bitmap.copy());
    bitmap.setAll();
    assertEquals(List.of(new ByteRange(0, G)), extents(frozen));
    bitmap.clear();
    assertEquals(1, frozen.dirtyClusters());
    assertSame(frozen, frozen.frozenCopy());
  }

  @Test
  void thawGivesAnEnabledIndependentBitmap() {
    var bitmap = tenAndAHalf();
    bitmap.set(0, G);
    bitmap.setEnabled(false);
    FrozenBitmap frozen = bitmap.frozenCopy();
    DirtyBitmap thawed = frozen.thaw();
    assertNotSame(bitmap, thawed);
    assertTrue(thawed.isEnabled());
    thawed.track(G, 1);
    assertEquals(2, thawed.dirtyClusters());
    assertEquals(1, frozen.dirtyClusters());
    assertEquals(1, bitmap.dirtyClusters());
  }
}
