package org.fleeced.bitmaps;

import java.nio.ByteBuffer;
import java.util.BitSet;

/**
 * The qcow2 on-disk layout of a bitmap's data (qcow2 spec "Bitmaps", sections "Bitmap table"
 * and "Bitmap data"), one bitmap table entry at a time.
 *
 * <p>The data is one bit per bitmap cluster: the bit for guest byte {@code b} is bit {@code
 * (b / granularity) % 8}, least significant first, of byte {@code (b / granularity) / 8}. It is
 * cut into image clusters of {@code clusterSize} bytes, each referenced by one table entry, so
 * entry {@code i} covers bitmap clusters {@code [i * clusterSize * 8, (i + 1) * clusterSize * 8)}.
 * An entry may say "all zeroes" or "all ones" instead of pointing at a data cluster; in the last
 * data cluster, bits past the end of the disk must be 0.
 *
 * <p>Nothing here reads or writes files or knows the table entry's bit format: the qcow2 driver
 * does that, and writes a data cluster only for {@link ClusterContent#MIXED} entries. Every
 * method works on dirty runs, never bit by bit over clean or dirty stretches, so uniform
 * entries of huge sparse bitmaps cost a couple of lookups each.
 *
 * <p>To store a whole bitmap consistently, take one {@link BitmapView#frozenCopy()} and encode
 * every entry from it: entries encoded from a live {@link DirtyBitmap} may come from different
 * states.
 */
public final class Qcow2BitmapLayout {

  /** What a bitmap table entry has to say about its range of the bitmap. */
  public enum ClusterContent {
    /** Every bit is 0: a table entry with offset 0 and bit 0 clear, no data cluster. */
    ALL_ZERO,
    /** Every bit inside the disk is 1: a table entry with offset 0 and bit 0 set. */
    ALL_ONE,
    /** Both: the entry points at a data cluster holding the encoded bits. */
    MIXED
  }

  /** Smallest qcow2 cluster size (cluster_bits 9). */
  public static final long MIN_CLUSTER_SIZE = 512;

  /** Largest qcow2 cluster size (cluster_bits 21). */
  public static final long MAX_CLUSTER_SIZE = 2L << 20;

  private static final byte[] ZEROS = new byte[4096];

  private Qcow2BitmapLayout() {}

  /**
   * Number of bitmap table entries for a bitmap: {@code ceil(ceil(ceil(sizeBytes / granularity)
   * / 8) / clusterSize)}, as the spec defines it.
   *
   * @throws IllegalArgumentException for an invalid size, granularity or cluster size
   */
  public static long tableSize(long sizeBytes, long granularity, long clusterSize) {
    long clusters = new ClusterGeometry(sizeBytes, granularity).clusterCount();
    return Math.ceilDiv(Math.ceilDiv(clusters, 8), checkClusterSize(clusterSize));
  }

  /**
   * Encodes table entry {@code tableIndex} of {@code bitmap}. For {@link ClusterContent#MIXED}
   * it writes the {@code clusterSize} bytes of the data cluster at {@code dst}'s position and
   * advances it, with bits past the end of the disk 0; for the uniform answers it leaves {@code
   * dst} untouched. Atomic with respect to changes of a {@link DirtyBitmap}.
   *
   * @param tableIndex in {@code [0, tableSize)}
   * @param dst at least {@code clusterSize} bytes remaining
   * @throws IllegalArgumentException for an invalid cluster size or index, or a too small
   *     buffer
   */
  public static ClusterContent encodeCluster(
      BitmapView bitmap, long tableIndex, long clusterSize, ByteBuffer dst) {
    TableEntry entry = TableEntry.of(geometryOf(bitmap), tableIndex, clusterSize);
    requireRemaining(dst, entry.dataBytes());
    return switch (bitmap) {
      case FrozenBitmap frozen -> encode(frozen.contents(), entry, dst);
      case DirtyBitmap live -> live.read(contents -> encode(contents, entry, dst));
    };
  }

  /**
   * Decodes the data cluster of table entry {@code tableIndex} from {@code src}'s position into
   * {@code bitmap}: the clusters the entry covers get exactly the bits read, whether the bitmap
   * is enabled or not. Consumes {@code clusterSize} bytes. Bits past the end of the disk, which
   * the spec requires to be 0, are ignored. Atomic with respect to other changes.
   *
   * @param tableIndex in {@code [0, tableSize)}
   * @param src at least {@code clusterSize} bytes remaining
   */
  public static void decodeCluster(
      DirtyBitmap bitmap, long tableIndex, long clusterSize, ByteBuffer src) {
    TableEntry entry = TableEntry.of(geometryOf(bitmap), tableIndex, clusterSize);
    requireRemaining(src, entry.dataBytes());
    BitSet bits = BitSet.valueOf(src.slice(src.position(), entry.dataBytes()));
    src.position(src.position() + entry.dataBytes());
    ClusterSet decoded = new ClusterSet();
    int limit = (int) (entry.end() - entry.first());
    for (int start = bits.nextSetBit(0); start >= 0 && start < limit; ) {
      int end = Math.min(bits.nextClearBit(start), limit);
      decoded.add(entry.first() + start, entry.first() + end);
      start = bits.nextSetBit(end);
    }
    bitmap.change(contents -> contents.replaceClusters(entry.first(), entry.end(), decoded));
  }

  /**
   * Applies a table entry without a data cluster: marks every cluster the entry covers dirty
   * ({@code ones}, "all ones") or clean ("all zeroes"), whether the bitmap is enabled or not.
   *
   * @param tableIndex in {@code [0, tableSize)}
   */
  public static void fillCluster(
      DirtyBitmap bitmap, long tableIndex, long clusterSize, boolean ones) {
    TableEntry entry = TableEntry.of(geometryOf(bitmap), tableIndex, clusterSize);
    bitmap.change(contents -> {
      if (ones) {
        contents.setClusters(entry.first(), entry.end());
      } else {
        contents.resetClusters(entry.first(), entry.end());
      }
    });
  }

  private static ClusterContent encode(BitmapContents contents, TableEntry entry, ByteBuffer dst) {
    if (contents.noneDirty(entry.first(), entry.end())) {
      return ClusterContent.ALL_ZERO;
    }
    if (contents.allDirty(entry.first(), entry.end())) {
      return ClusterContent.ALL_ONE;
    }
    // BitSet's byte form is the qcow2 one: bit n is bit n % 8 of byte n / 8.
    BitSet bits = new BitSet((int) (entry.end() - entry.first()));
    contents.forEachDirtyRun(entry.first(), entry.end(), (start, end) -> {
      bits.set((int) (start - entry.first()), (int) (end - entry.first()));
      return true;
    });
    byte[] bytes = bits.toByteArray();
    dst.put(bytes);
    for (int left = entry.dataBytes() - bytes.length; left > 0; left -= ZEROS.length) {
      dst.put(ZEROS, 0, Math.min(left, ZEROS.length));
    }
    return ClusterContent.MIXED;
  }

  private static ClusterGeometry geometryOf(BitmapView bitmap) {
    return new ClusterGeometry(bitmap.sizeBytes(), bitmap.granularity());
  }

  private static long checkClusterSize(long clusterSize) {
    if (clusterSize < MIN_CLUSTER_SIZE
        || clusterSize > MAX_CLUSTER_SIZE
        || Long.bitCount(clusterSize) != 1) {
      throw new IllegalArgumentException(
          "qcow2 cluster size must be a power of two from 512 B to 2 MiB: " + clusterSize);
    }
    return clusterSize;
  }

  private static void requireRemaining(ByteBuffer buffer, int bytes) {
    if (buffer.remaining() < bytes) {
      throw new IllegalArgumentException(
          "buffer has " + buffer.remaining() + " bytes left, a bitmap data cluster needs " + bytes);
    }
  }

  /**
   * The bitmap clusters {@code [first, end)} that one table entry covers, {@code end} clipped to
   * the disk, and the size of its data cluster.
   */
  private record TableEntry(long first, long end, int dataBytes) {

    static TableEntry of(ClusterGeometry geometry, long tableIndex, long clusterSize) {
      long tableSize = tableSize(geometry.sizeBytes(), geometry.granularity(), clusterSize);
      if (tableIndex < 0 || tableIndex >= tableSize) {
        throw new IllegalArgumentException(
            "bitmap table index " + tableIndex + " outside table of " + tableSize + " entries");
      }
      long bitsPerEntry = clusterSize * 8;
      long first = tableIndex * bitsPerEntry;
      long end = Math.min(geometry.clusterCount(), first + bitsPerEntry);
      return new TableEntry(first, end, (int) clusterSize);
    }
  }
}
