package org.fleeced.bitmaps;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ClusterGeometryTest {

  @ParameterizedTest
  @ValueSource(longs = {0, -512, 256, 511, 513, 1536, 1L << 32, Long.MIN_VALUE})
  void rejectsGranularityOutsidePowersOfTwoFrom512To2GiB(long granularity) {
    var error = assertThrows(IllegalArgumentException.class, () -> new ClusterGeometry(4096, granularity));
    assertTrue(error.getMessage().contains("granularity"), error.getMessage());
  }

  @ParameterizedTest
  @ValueSource(longs = {512, 1024, 65536, 1L << 31})
  void acceptsEveryPowerOfTwoFrom512To2GiB(long granularity) {
    assertDoesNotThrow(() -> new ClusterGeometry(Long.MAX_VALUE, granularity));
  }

  @Test
  void rejectsNegativeSize() {
    assertThrows(IllegalArgumentException.class, () -> new ClusterGeometry(-1, 512));
  }

  @Test
  void countsAPartialLastCluster() {
    assertEquals(0, new ClusterGeometry(0, 512).clusterCount());
    assertEquals(1, new ClusterGeometry(1, 512).clusterCount());
    assertEquals(2, new ClusterGeometry(513, 512).clusterCount());
    assertEquals(2, new ClusterGeometry(1024, 512).clusterCount());
  }

  @Test
  void extremesDoNotOverflow() {
    var fine = new ClusterGeometry(Long.MAX_VALUE, 512);
    assertEquals(1L << 54, fine.clusterCount());
    assertEquals(Long.MAX_VALUE - ((1L << 54) - 1) * 512, fine.bytesIn((1L << 54) - 1));
    assertEquals(Long.MAX_VALUE, fine.startOf(1L << 54));
    assertEquals(1L << 54, fine.endTouched(Long.MAX_VALUE));
    assertEquals(1L << 54, fine.endWhollyBefore(Long.MAX_VALUE));

    var coarse = new ClusterGeometry(Long.MAX_VALUE, 1L << 31);
    long last = (1L << 32) - 1;
    assertEquals(1L << 32, coarse.clusterCount());
    assertEquals(last << 31, coarse.startOf(last));
    assertEquals((1L << 31) - 1, coarse.bytesIn(last));
    assertEquals(Long.MAX_VALUE, coarse.startOf(last + 1));
  }

  @Test
  void wholeClusterBoundsRoundInwards() {
    var geometry = new ClusterGeometry(10 * 512 + 100, 512);
    assertEquals(1, geometry.firstWhollyAfter(1));
    assertEquals(0, geometry.firstWhollyAfter(0));
    assertEquals(2, geometry.endWhollyBefore(1535));
    assertEquals(11, geometry.endWhollyBefore(10 * 512 + 100), "the end of the disk ends the partial cluster");
    assertEquals(10, geometry.endWhollyBefore(10 * 512 + 99));
  }

  @Test
  void checkRangeRejectsRangesOutsideTheDiskWithoutOverflowing() {
    var geometry = new ClusterGeometry(4096, 512);
    assertDoesNotThrow(() -> geometry.checkRange(4096, 0));
    assertDoesNotThrow(() -> geometry.checkRange(0, 4096));
    assertThrows(IllegalArgumentException.class, () -> geometry.checkRange(1, Long.MAX_VALUE));
    assertThrows(IllegalArgumentException.class, () -> geometry.checkRange(4097, 0));
    assertThrows(IllegalArgumentException.class, () -> geometry.checkRange(-1, 1));
    assertThrows(IllegalArgumentException.class, () -> geometry.checkRange(0, -1));
    assertThrows(IllegalArgumentException.class, () -> geometry.checkOffset(4096));
    assertThrows(IllegalArgumentException.class, () -> geometry.checkBounds(10, 9));
    assertThrows(IllegalArgumentException.class, () -> geometry.checkBounds(0, 4097));
  }

  @Test
  void requireSameNamesBothGeometries() {
    var a = new ClusterGeometry(4096, 512);
    var error = assertThrows(
        IllegalArgumentException.class, () -> a.requireSame(new ClusterGeometry(4096, 1024), "merge"));
    assertTrue(error.getMessage().contains("granularity 512"), error.getMessage());
    assertTrue(error.getMessage().contains("granularity 1024"), error.getMessage());
    assertThrows(IllegalArgumentException.class, () -> a.requireSame(new ClusterGeometry(8192, 512), "merge"));
    assertDoesNotThrow(() -> a.requireSame(new ClusterGeometry(4096, 512), "merge"));
  }
}
