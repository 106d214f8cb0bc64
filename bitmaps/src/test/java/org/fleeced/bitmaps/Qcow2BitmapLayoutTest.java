package org.fleeced.bitmaps;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.fleeced.bitmaps.Qcow2BitmapLayout.ClusterContent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class Qcow2BitmapLayoutTest {

  private static final long TIB = 1L << 40;

  @Test
  void tableSizeFollowsTheSpecFormula() {
    assertEquals(0, Qcow2BitmapLayout.tableSize(0, 512, 512));
    assertEquals(1, Qcow2BitmapLayout.tableSize(1, 512, 512));
    assertEquals(1, Qcow2BitmapLayout.tableSize(512L * 8 * 512, 512, 512), "exactly one full data cluster");
    assertEquals(2, Qcow2BitmapLayout.tableSize(512L * 8 * 512 + 1, 512, 512));
    assertEquals(512, Qcow2BitmapLayout.tableSize(16 * TIB, 65536, 65536), "QEMU's 16 TiB default: 32 MiB of data");
    assertEquals(1L << 42, Qcow2BitmapLayout.tableSize(Long.MAX_VALUE, 512, 512), "2^54 bits / 8 / 512");
  }

  @Test
  void rejectsInvalidClusterSizesAndIndices() {
    assertThrows(IllegalArgumentException.class, () -> Qcow2BitmapLayout.tableSize(4096, 512, 256));
    assertThrows(IllegalArgumentException.class, () -> Qcow2BitmapLayout.tableSize(4096, 512, 4 << 20));
    assertThrows(IllegalArgumentException.class, () -> Qcow2BitmapLayout.tableSize(4096, 512, 3072));
    var bitmap = new DirtyBitmap(4096, 512);
    ByteBuffer buffer = ByteBuffer.allocate(512);
    assertThrows(IllegalArgumentException.class, () -> Qcow2BitmapLayout.encodeCluster(bitmap, 1, 512, buffer));
    assertThrows(IllegalArgumentException.class, () -> Qcow2BitmapLayout.encodeCluster(bitmap, -1, 512, buffer));
    assertThrows(IllegalArgumentException.class, () -> Qcow2BitmapLayout.decodeCluster(bitmap, 0, 1024, buffer));
  }

  @Test
  void encodesBitsLeastSignificantFirstWithAZeroTail() {
    var bitmap = new DirtyBitmap(512 * 20, 512);
    for (long cluster : new long[] {0, 3, 17}) {
      bitmap.set(cluster * 512 + 100, 1);
    }
    bitmap.set(8 * 512, 8 * 512);
    ByteBuffer dst = ByteBuffer.allocate(600);
    Arrays.fill(dst.array(), (byte) 0x5A);
    dst.position(50);

    assertEquals(ClusterContent.MIXED, Qcow2BitmapLayout.encodeCluster(bitmap, 0, 512, dst));

    assertEquals(562, dst.position(), "advanced by one cluster");
    byte[] expected = new byte[512];
    expected[0] = 0x09;
    expected[1] = (byte) 0xFF;
    expected[2] = 0x02;
    assertArrayEquals(expected, Arrays.copyOfRange(dst.array(), 50, 562));
    assertEquals(0x5A, dst.array()[49], "nothing written before the position");
    assertEquals(0x5A, dst.array()[562], "nothing written after the cluster");
  }

  @Test
  void uniformEntriesLeaveTheBufferUntouched() {
    var bitmap = new DirtyBitmap(3 * 4096 * 8 * 512 + 1000, 512);
    ByteBuffer dst = ByteBuffer.allocate(512);
    assertEquals(4, Qcow2BitmapLayout.tableSize(bitmap.sizeBytes(), 512, 512 * 8));
    assertEquals(ClusterContent.ALL_ZERO, Qcow2BitmapLayout.encodeCluster(bitmap, 3, 512, dst));
    bitmap.setAll();
    for (long entry = 0; entry < Qcow2BitmapLayout.tableSize(bitmap.sizeBytes(), 512, 512); entry += 1000) {
      assertEquals(ClusterContent.ALL_ONE, Qcow2BitmapLayout.encodeCluster(bitmap.frozenCopy(), entry, 512, dst));
    }
    assertEquals(0, dst.position());
  }

  @Test
  void lastEntryIsAllOnesWhenEveryClusterInsideTheDiskIsDirty() {
    var bitmap = new DirtyBitmap(512 * 10 + 1, 512);
    bitmap.setAll();
    assertEquals(ClusterContent.ALL_ONE, Qcow2BitmapLayout.encodeCluster(bitmap, 0, 512, ByteBuffer.allocate(512)));
    bitmap.reset(0, 512);
    ByteBuffer dst = ByteBuffer.allocate(512);
    assertEquals(ClusterContent.MIXED, Qcow2BitmapLayout.encodeCluster(bitmap, 0, 512, dst));
    assertEquals((byte) 0xFE, dst.get(0));
    assertEquals(0x07, dst.get(1), "clusters 8, 9, 10 (the partial one); tail bits 0");
    assertEquals(0, dst.get(2));
  }

  @Test
  void decodeReplacesTheEntryRangeAndIgnoresTailBits() {
    long bitsPerEntry = 512 * 8;
    var bitmap = new DirtyBitmap(512 * (bitsPerEntry + 10), 512);
    bitmap.setAll();
    ByteBuffer src = ByteBuffer.allocate(512);
    Arrays.fill(src.array(), (byte) 0xFF);
    src.put(0, (byte) 0x01);

    Qcow2BitmapLayout.decodeCluster(bitmap, 1, 512, src);

    assertEquals(512, src.position());
    assertEquals(bitsPerEntry + 3, bitmap.dirtyClusters(), "entry 0 untouched; entry 1: bit 0 of 0x01, bits 0-1 of 0xFF");
    assertTrue(bitmap.get(bitsPerEntry * 512));
    assertTrue(!bitmap.get((bitsPerEntry + 1) * 512));
  }

  @Test
  void fillClusterSetsOrClearsOneEntryClippedToTheDisk() {
    long bitsPerEntry = 512 * 8;
    var bitmap = new DirtyBitmap(512 * (2 * bitsPerEntry + 3), 512);
    bitmap.setEnabled(false);
    Qcow2BitmapLayout.fillCluster(bitmap, 2, 512, true);
    assertEquals(3, bitmap.dirtyClusters());
    Qcow2BitmapLayout.fillCluster(bitmap, 0, 512, true);
    Qcow2BitmapLayout.fillCluster(bitmap, 2, 512, false);
    assertEquals(List.of(new ByteRange(0, bitsPerEntry * 512)), bitmap.dirtyExtents(0, bitmap.sizeBytes(), 10));
  }

  @ParameterizedTest(name = "granularity {1}, cluster {2}, seed {3}")
  @CsvSource({
    "12581912, 512, 512, 11",
    "9437185, 512, 512, 12",
    "4294967297, 65536, 512, 13",
    "26393647775751, 2147483648, 512, 14",
    "40000000000, 4096, 65536, 15",
  })
  void roundTripsRandomBitmapsThroughTheModelEncoding(long size, long granularity, int clusterSize, long seed) {
    var model = new BitSetModel(size, granularity, 0, (int) Math.ceilDiv(size, granularity));
    var bitmap = new DirtyBitmap(size, granularity);
    fillRandomly(new Random(seed), bitmap, model, clusterSize);
    FrozenBitmap frozen = bitmap.frozenCopy();
    byte[] expected = modelEncoding(model, clusterSize);
    long entries = Qcow2BitmapLayout.tableSize(size, granularity, clusterSize);
    assertEquals(expected.length, entries * clusterSize, "seed " + seed + ": table size");

    var decoded = new DirtyBitmap(size, granularity);
    decoded.setAll();
    List<ClusterContent> contents = new ArrayList<>();
    for (int entry = 0; entry < entries; entry++) {
      ByteBuffer dst = ByteBuffer.allocate(clusterSize);
      ClusterContent content = Qcow2BitmapLayout.encodeCluster(frozen, entry, clusterSize, dst);
      contents.add(content);
      byte[] expectedCluster = Arrays.copyOfRange(expected, entry * clusterSize, (entry + 1) * clusterSize);
      long validBits = Math.min(clusterSize * 8L, model.clusterCount - entry * clusterSize * 8L);
      assertUniformOrEqual(content, expectedCluster, validBits, dst, "seed " + seed + ", entry " + entry);
      if (content == ClusterContent.MIXED) {
        Qcow2BitmapLayout.decodeCluster(decoded, entry, clusterSize, dst.flip());
      } else {
        Qcow2BitmapLayout.fillCluster(decoded, entry, clusterSize, content == ClusterContent.ALL_ONE);
      }
    }
    assertTrue(contents.containsAll(List.of(ClusterContent.values())), "seed " + seed + ": all three kinds seen " + contents);
    assertEquals(bitmap.dirtyExtents(0, size, Integer.MAX_VALUE), decoded.dirtyExtents(0, size, Integer.MAX_VALUE), "seed " + seed);
  }

  /** Random runs, plus whole entries left clean and set dirty so every kind of entry occurs. */
  private static void fillRandomly(Random random, DirtyBitmap bitmap, BitSetModel model, int clusterSize) {
    long size = bitmap.sizeBytes();
    long entryBytes = clusterSize * 8L * bitmap.granularity();
    long fullEntryEnd = Math.min(size, 2 * entryBytes);
    bitmap.set(entryBytes, fullEntryEnd - entryBytes);
    model.set(entryBytes, fullEntryEnd - entryBytes);
    for (int i = 0; i < 300; i++) {
      long offset = 2 * entryBytes + (long) (random.nextDouble() * (size - 2 * entryBytes));
      long length = Math.min(size - offset, random.nextLong(1, 64 * bitmap.granularity()));
      bitmap.set(offset, length);
      model.set(offset, length);
    }
    bitmap.set(size - 1, 1);
    model.set(size - 1, 1);
  }

  /** The layout written from the model: bit c of the data is cluster c, padded with zeros. */
  private static byte[] modelEncoding(BitSetModel model, int clusterSize) {
    BitSet bits = new BitSet();
    for (long c = 0; c < model.clusterCount; c++) {
      bits.set((int) c, model.isDirty(c));
    }
    long dataBytes = Math.ceilDiv(model.clusterCount, 8);
    return Arrays.copyOf(bits.toByteArray(), (int) (Math.ceilDiv(dataBytes, clusterSize) * clusterSize));
  }

  private static void assertUniformOrEqual(
      ClusterContent content, byte[] expected, long validBits, ByteBuffer dst, String where) {
    BitSet expectedBits = BitSet.valueOf(expected);
    switch (content) {
      case ALL_ZERO -> assertTrue(expectedBits.isEmpty(), where + ": ALL_ZERO but the model has " + expectedBits);
      case ALL_ONE -> assertEquals(validBits, expectedBits.nextClearBit(0), where + ": ALL_ONE, first 0 in the model");
      case MIXED -> assertArrayEquals(expected, dst.array(), where + ": MIXED bytes");
    }
    assertEquals(content == ClusterContent.MIXED ? expected.length : 0, dst.position(), where + ": position");
  }

  @Test
  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  void encodesUniformEntriesOfHugeBitmapsWithoutVisitingTheirBits() {
    // 16 TiB at 512 B is 2^35 bits in 2048 entries of 2 MiB: far too many to visit one by one.
    var bitmap = new DirtyBitmap(16 * TIB, 512);
    bitmap.set(5 * TIB, 4096);
    long entries = Qcow2BitmapLayout.tableSize(bitmap.sizeBytes(), 512, 2 << 20);
    assertEquals(2048, entries);
    ByteBuffer dst = ByteBuffer.allocate(2 << 20);
    int mixed = 0;
    for (long entry = 0; entry < entries; entry++) {
      if (Qcow2BitmapLayout.encodeCluster(bitmap, entry, 2 << 20, dst.clear()) == ClusterContent.MIXED) {
        mixed++;
      }
    }
    assertEquals(1, mixed);
    bitmap.setAll();
    bitmap.reset(TIB, 512);
    for (long entry = 0; entry < entries; entry++) {
      ClusterContent expected = entry == TIB / 512 / (16L << 20) ? ClusterContent.MIXED : ClusterContent.ALL_ONE;
      assertEquals(expected, Qcow2BitmapLayout.encodeCluster(bitmap, entry, 2 << 20, dst.clear()), "entry " + entry);
    }
  }

  @Test
  void encodesAndDecodesTheLastEntriesOfA2To63ByteDisk() {
    var bitmap = new DirtyBitmap(Long.MAX_VALUE, 512);
    long last = Qcow2BitmapLayout.tableSize(Long.MAX_VALUE, 512, 512) - 1;
    bitmap.set(Long.MAX_VALUE - 1, 1);
    ByteBuffer dst = ByteBuffer.allocate(512);
    assertEquals(ClusterContent.MIXED, Qcow2BitmapLayout.encodeCluster(bitmap, last, 512, dst));
    assertEquals((byte) 0x80, dst.get(511), "the disk's last cluster is the entry's last bit");
    assertEquals(ClusterContent.ALL_ZERO, Qcow2BitmapLayout.encodeCluster(bitmap, last - 1, 512, dst.clear()));

    var decoded = new DirtyBitmap(Long.MAX_VALUE, 512);
    Qcow2BitmapLayout.decodeCluster(decoded, last, 512, dst.flip().position(0).limit(512));
    assertEquals(List.of(new ByteRange(Long.MAX_VALUE - 511, 511)), decoded.dirtyExtents(0, Long.MAX_VALUE, 10));
  }
}
