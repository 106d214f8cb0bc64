package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Where each metadata structure of a (valid) qcow2 image lies in its bytes, for the fuzzer's
 * structure-aware mutations: header extensions, the backing file name, L1 and L2 tables,
 * the refcount table and its blocks, the bitmap directory and the bitmap tables. Read from the raw
 * bytes following the qcow2 spec, not through the driver, so that the driver's parser is not
 * also the fuzzer's. Whatever does not parse is simply left out of the map.
 *
 * @param clusterSize      bytes per cluster
 * @param headerLength     bytes of the fixed header; extensions follow
 * @param extensions       header extensions in file order
 * @param backingName      where the backing file name lies, or null
 * @param l1               the L1 table
 * @param l2Tables         every L2 table the L1 table references (within the file)
 * @param refcountTable    the refcount table
 * @param refcountBlocks   every refcount block the refcount table references (within the file)
 * @param bitmapDirectory  the bitmap directory, or null
 * @param bitmapEntries    the bitmap directory entries
 * @param bitmapTables     every bitmap table the directory references (within the file)
 */
record Qcow2ImageMap(int clusterSize, int headerLength, List<Extension> extensions, Region backingName, Region l1,
                     List<Region> l2Tables, Region refcountTable, List<Region> refcountBlocks,
                     Region bitmapDirectory, List<BitmapEntry> bitmapEntries, List<Region> bitmapTables) {
    /** Header extension type of the bitmaps extension (spec "Bitmaps extension"). */
    static final int BITMAPS_EXTENSION = HeaderExtension.BITMAPS;
    /** Past the 56 bits a table entry can name: an end no allocator reaches. */
    private static final long MAX_HOST_OFFSET = 1L << 56;

    /** A byte range of the image. */
    record Region(long offset, int length) {
        long end() {
            return offset + length;
        }
    }

    /** A header extension: its type field is at {@code offset}, its data at offset + 8. */
    record Extension(int type, long offset, int length) {
    }

    /** A bitmap directory entry at {@code offset}, {@code length} bytes with padding. */
    record BitmapEntry(long offset, int length, int nameSize, int extraDataSize) {
    }

    /** Every metadata region, for byte flips. */
    List<Region> metadataRegions() {
        List<Region> all = new ArrayList<>();
        all.add(new Region(0, clusterSize));
        all.add(l1);
        all.addAll(l2Tables);
        all.add(refcountTable);
        all.addAll(refcountBlocks);
        if (bitmapDirectory != null) {
            all.add(bitmapDirectory);
        }
        all.addAll(bitmapTables);
        return all;
    }

    /** Host offsets worth pointing a damaged entry at: every table, the header, the end of file. */
    List<Long> interestingTargets(long fileSize) {
        List<Long> targets = new ArrayList<>();
        for (Region r : metadataRegions()) {
            targets.add(r.offset());
        }
        targets.add(fileSize);
        targets.add(fileSize - clusterSize);
        return targets;
    }

    static Qcow2ImageMap of(byte[] image) {
        ByteBuffer b = ByteBuffer.wrap(image);
        int clusterBits = b.getInt(20);
        int clusterSize = 1 << clusterBits;
        int version = b.getInt(4);
        int headerLength = version >= 3 ? b.getInt(100) : Qcow2Header.V2_HEADER_LENGTH;
        long backingOffset = b.getLong(8);
        int backingSize = b.getInt(16);
        Region backing = backingOffset == 0 ? null : new Region(backingOffset, backingSize);
        List<Extension> extensions = extensions(b, headerLength, backing == null ? clusterSize : backingOffset);

        Region l1 = new Region(b.getLong(40), b.getInt(36) * Qcow2Layout.TABLE_ENTRY_BYTES);
        List<Region> l2 = referenced(b, l1, clusterSize, clusterSize);
        Region reftable = new Region(b.getLong(48), b.getInt(56) * clusterSize);
        List<Region> refblocks = referenced(b, reftable, clusterSize, clusterSize);

        Region directory = null;
        List<BitmapEntry> entries = new ArrayList<>();
        List<Region> bitmapTables = new ArrayList<>();
        for (Extension e : extensions) {
            if (e.type() == BITMAPS_EXTENSION && e.length() == 24) {
                int count = b.getInt((int) e.offset() + 8);
                long dirSize = b.getLong((int) e.offset() + 16);
                long dirOffset = b.getLong((int) e.offset() + 24);
                if (dirOffset > 0 && dirSize > 0 && dirOffset + dirSize <= image.length) {
                    directory = new Region(dirOffset, (int) dirSize);
                    readDirectory(b, directory, count, entries, bitmapTables);
                }
            }
        }
        return new Qcow2ImageMap(clusterSize, headerLength, extensions, backing, l1, l2, reftable, refblocks, directory, entries,
                bitmapTables);
    }

    /**
     * Host offset past the last cluster the image's refcount blocks (those inside the file) count
     * as in use, or 0 (also when the header is cut short): where a spec-following allocator
     * starts handing out clusters past the file.
     */
    static long countedEnd(byte[] image) {
        if (image.length < Qcow2Header.V3_HEADER_LENGTH) {
            return 0;
        }
        ByteBuffer b = ByteBuffer.wrap(image);
        int clusterBits = b.getInt(20);
        if (clusterBits < Qcow2Layout.MIN_CLUSTER_BITS || clusterBits > Qcow2Layout.MAX_CLUSTER_BITS) {
            return 0;
        }
        int clusterSize = 1 << clusterBits;
        int order = b.getInt(4) >= 3 ? b.getInt(96) : 4;
        if (order < 0 || order > 6) {
            return 0;
        }
        long entriesPerBlock = (long) clusterSize * 8 >> order;
        long table = b.getLong(48);
        if (table < 0 || table >= image.length) {
            return 0;
        }
        long tableEnd = table + (Integer.toUnsignedLong(b.getInt(56)) << clusterBits);
        long end = 0;
        for (long p = table, index = 0; p + 8 <= tableEnd && p + 8 <= image.length; p += 8, index++) {
            long block = b.getLong((int) p) & L2Entry.OFFSET_MASK;
            if (block == 0 || block % clusterSize != 0 || block + clusterSize > image.length) {
                continue;
            }
            for (long i = entriesPerBlock - 1; i >= 0; i--) {
                long bit = i << order;
                long at = block + (bit >> 3);
                boolean counted = order < 3
                        ? (image[(int) at] >>> (bit & 7) & (1 << (1 << order)) - 1) != 0
                        : anyNonZero(image, at, 1 << (order - 3));
                if (counted) {
                    long clusters = index * entriesPerBlock + i + 1;
                    end = Math.max(end, clusters > MAX_HOST_OFFSET >> clusterBits ? MAX_HOST_OFFSET : clusters << clusterBits);
                    break;
                }
            }
        }
        return end;
    }

    private static boolean anyNonZero(byte[] image, long offset, int length) {
        for (int i = 0; i < length; i++) {
            if (image[(int) offset + i] != 0) {
                return true;
            }
        }
        return false;
    }

    private static List<Extension> extensions(ByteBuffer b, int start, long end) {
        List<Extension> list = new ArrayList<>();
        long pos = start;
        while (pos + 8 <= end && pos + 8 <= b.limit()) {
            int type = b.getInt((int) pos);
            int length = b.getInt((int) pos + 4);
            if (type == HeaderExtension.END || length < 0 || pos + 8 + length > end) {
                break;
            }
            list.add(new Extension(type, pos, length));
            pos += 8 + ((length + 7L) & ~7L);
        }
        return list;
    }

    /**
     * The clusters a table's entries point at (bits 9-55), one region each, those that start
     * inside the file; one that a truncation cut short is the part still there.
     */
    private static List<Region> referenced(ByteBuffer b, Region table, int clusterSize, int length) {
        List<Region> list = new ArrayList<>();
        for (long p = table.offset(); p + 8 <= table.end() && p + 8 <= b.limit(); p += 8) {
            long target = b.getLong((int) p) & L2Entry.OFFSET_MASK;
            if (target != 0 && target % clusterSize == 0 && target < b.limit()) {
                list.add(new Region(target, (int) Math.min(length, b.limit() - target)));
            }
        }
        return list;
    }

    private static void readDirectory(ByteBuffer b, Region directory, int count, List<BitmapEntry> entries,
                                      List<Region> tables) {
        long pos = directory.offset();
        for (int i = 0; i < count && pos + 24 <= directory.end(); i++) {
            long tableOffset = b.getLong((int) pos);
            int tableSize = b.getInt((int) pos + 8);
            int nameSize = Short.toUnsignedInt(b.getShort((int) pos + 18));
            int extraSize = b.getInt((int) pos + 20);
            int length = (int) ((24L + extraSize + nameSize + 7) & ~7L);
            entries.add(new BitmapEntry(pos, length, nameSize, extraSize));
            long tableBytes = tableSize * 8L;
            if (tableOffset > 0 && tableSize > 0 && tableOffset + tableBytes <= b.limit()) {
                tables.add(new Region(tableOffset, (int) tableBytes));
            }
            pos += length;
        }
    }
}
