package org.fleeced.qcow2;

import java.util.List;
import java.util.Random;

/**
 * The fuzzer's mutations of the tables behind the header: L1 and L2 entries, the refcount table
 * and its blocks, the bitmaps extension, bitmap directory entries and bitmap tables, and plain
 * byte flips in any metadata cluster. Each returns false when the image has no such structure,
 * so the caller picks another mutation.
 */
final class Qcow2TableMutator {
    private static final long COPIED = L2Entry.COPIED;

    private Qcow2TableMutator() {
    }

    static boolean l1Entry(Qcow2Mutation m) {
        long slot = m.pickSlot(m.map().l1());
        if (slot < 0) {
            return false;
        }
        Random r = m.random();
        long current = m.getLong(slot);
        long value = switch (r.nextInt(8)) {
            case 0 -> 0;
            case 1 -> m.target() | COPIED;
            case 2 -> current + 512;
            case 3 -> current | (1L << (r.nextBoolean() ? r.nextInt(9) : 56 + r.nextInt(7)));
            case 4 -> current ^ COPIED;
            case 5 -> m.getLong(m.pickSlot(m.map().l1()));
            case 6 -> ((long) m.bytes().length << r.nextInt(1, 24)) | COPIED;
            default -> m.interestingLong(current);
        };
        m.put("L1 entry", slot, 8, value);
        return true;
    }

    static boolean l2Entry(Qcow2Mutation m) {
        Qcow2ImageMap.Region table = m.pick(m.map().l2Tables());
        long slot = table == null ? -1 : m.pickSlot(table);
        if (slot < 0) {
            return false;
        }
        Random r = m.random();
        long current = m.getLong(slot);
        long value = switch (r.nextInt(11)) {
            case 0 -> m.target() | COPIED;
            case 1, 2 -> compressed(m);
            case 3 -> r.nextBoolean() ? L2Entry.ZERO_FLAG : m.target() | L2Entry.ZERO_FLAG | (r.nextBoolean() ? COPIED : 0);
            case 4 -> current + (r.nextBoolean() ? 512 : 1);
            case 5 -> current | (1L << (1 + r.nextInt(8))) | (r.nextBoolean() ? 1L << (56 + r.nextInt(6)) : 0);
            case 6 -> current ^ COPIED;
            case 7 -> m.getLong(m.pickSlot(table));
            case 8 -> -1;
            default -> m.interestingLong(current);
        };
        m.put("L2 entry", slot, 8, value);
        return true;
    }

    /** A compressed cluster descriptor (spec "Compressed Clusters Descriptor") with odd offsets and sizes. */
    private static long compressed(Qcow2Mutation m) {
        Random r = m.random();
        int clusterBits = Integer.numberOfTrailingZeros(m.clusterSize());
        int shift = new Qcow2Layout(clusterBits, 4).compressedSectorShift();
        long maxSectors = (1L << (62 - shift)) - 1;
        long sectors = switch (r.nextInt(4)) {
            case 0 -> 0;
            case 1 -> maxSectors;
            case 2 -> r.nextLong(maxSectors + 1);
            default -> Math.min(maxSectors, 1 + r.nextInt(3));
        };
        long offset = (m.target() + (r.nextBoolean() ? r.nextInt(m.clusterSize()) : 0)) & ((1L << shift) - 1);
        return L2Entry.COMPRESSED_FLAG | (sectors << shift) | offset;
    }

    static boolean refcountTableEntry(Qcow2Mutation m) {
        long slot = m.pickSlot(m.map().refcountTable());
        if (slot < 0) {
            return false;
        }
        Random r = m.random();
        long current = m.getLong(slot);
        long value = switch (r.nextInt(6)) {
            case 0 -> 0;
            case 1 -> m.target();
            case 2 -> current + 512 * (1 + r.nextInt(3));
            case 3 -> m.getLong(m.pickSlot(m.map().refcountTable()));
            case 4 -> current | (1L << r.nextInt(9));
            default -> m.interestingLong(current);
        };
        m.put("refcount table entry", slot, 8, value);
        return true;
    }

    static boolean refcountBlock(Qcow2Mutation m) {
        Qcow2ImageMap.Region block = m.pick(m.map().refcountBlocks());
        if (block == null) {
            return false;
        }
        Random r = m.random();
        int order = m.getInt(4) >= 3 ? m.getInt(96) & 7 : 4;
        int bits = 1 << Math.min(order, 6);
        if (r.nextInt(5) == 0) {
            byte fill = r.nextBoolean() ? (byte) 0xff : 0;
            byte[] all = new byte[block.length()];
            java.util.Arrays.fill(all, fill);
            m.putBytes("refcount block filled with " + (fill & 0xff), block.offset(), all);
            return true;
        }
        long entries = block.length() * 8L / bits;
        long index = r.nextInt(4) == 0 ? r.nextLong(entries) : r.nextLong(Math.min(entries, 64));
        long bitOffset = index * bits;
        if (bits < 8) {
            long at = block.offset() + bitOffset / 8;
            m.put("refcount block byte", at, 1, r.nextInt(256));
        } else {
            long max = bits == 64 ? -1 : (1L << bits) - 1;
            long value = switch (r.nextInt(4)) {
                case 0 -> 0;
                case 1 -> max;
                case 2 -> 2;
                default -> r.nextLong() & max;
            };
            m.put("refcount entry " + index, block.offset() + bitOffset / 8, bits / 8, value);
        }
        return true;
    }

    static boolean bitmapsExtension(Qcow2Mutation m) {
        for (Qcow2ImageMap.Extension e : m.map().extensions()) {
            if (e.type() == Qcow2ImageMap.BITMAPS_EXTENSION) {
                long data = e.offset() + 8;
                switch (m.random().nextInt(4)) {
                    case 0 -> m.put("nb_bitmaps", data, 4, m.interestingInt(m.getInt(data)));
                    case 1 -> m.put("bitmaps reserved", data + 4, 4, 1 + m.random().nextInt(255));
                    case 2 -> m.put("bitmap_directory_size", data + 8, 8, m.interestingLong(m.getLong(data + 8)));
                    default -> m.put("bitmap_directory_offset", data + 16, 8, m.interestingLong(m.getLong(data + 16)));
                }
                return true;
            }
        }
        return false;
    }

    static boolean bitmapDirectoryEntry(Qcow2Mutation m) {
        List<Qcow2ImageMap.BitmapEntry> entries = m.map().bitmapEntries();
        if (entries.isEmpty()) {
            return false;
        }
        Random r = m.random();
        Qcow2ImageMap.BitmapEntry e = entries.get(r.nextInt(entries.size()));
        long at = e.offset();
        switch (r.nextInt(9)) {
            case 0 -> m.put("bitmap table offset", at, 8, r.nextBoolean() ? m.target() : m.interestingLong(m.getLong(at)));
            case 1 -> m.put("bitmap table size", at + 8, 4, m.interestingInt(m.getInt(at + 8)));
            case 2 -> m.put("bitmap flags", at + 12, 4, m.getInt(at + 12) ^ (1 << (r.nextBoolean() ? r.nextInt(3) : r.nextInt(32))));
            case 3 -> m.put("bitmap type", at + 16, 1, r.nextInt(4));
            case 4 -> m.put("bitmap granularity_bits", at + 17, 1, r.nextBoolean() ? r.nextInt(70) : r.nextInt(256));
            case 5 -> m.put("bitmap name_size", at + 18, 2, r.nextBoolean() ? 0 : m.interestingInt(e.nameSize()));
            case 6 -> m.put("bitmap extra_data_size", at + 20, 4, r.nextBoolean() ? 8 * r.nextInt(4) : m.interestingInt(0));
            case 7 -> copyName(m, e, entries.get(r.nextInt(entries.size())));
            default -> m.put("bitmap name byte", at + 24 + e.extraDataSize() + r.nextInt(Math.max(1, e.nameSize())), 1,
                    r.nextBoolean() ? 0xff : 0);
        }
        return true;
    }

    /** Gives an entry another entry's name (same length only): two bitmaps of one name. */
    private static void copyName(Qcow2Mutation m, Qcow2ImageMap.BitmapEntry to, Qcow2ImageMap.BitmapEntry from) {
        int n = Math.min(to.nameSize(), from.nameSize());
        byte[] name = m.copyOf(from.offset() + 24 + from.extraDataSize(), n);
        m.put("bitmap name_size", to.offset() + 18, 2, n);
        m.putBytes("bitmap name copied", to.offset() + 24 + to.extraDataSize(), name);
    }

    static boolean bitmapTableEntry(Qcow2Mutation m) {
        Qcow2ImageMap.Region table = m.pick(m.map().bitmapTables());
        long slot = table == null ? -1 : m.pickSlot(table);
        if (slot < 0) {
            return false;
        }
        Random r = m.random();
        long current = m.getLong(slot);
        long value = switch (r.nextInt(6)) {
            case 0 -> 0;
            case 1 -> 1;
            case 2 -> m.target();
            case 3 -> current + 512;
            case 4 -> current | (1L << (1 + r.nextInt(8))) | (r.nextBoolean() ? 1L << 60 : 0);
            default -> m.interestingLong(current);
        };
        m.put("bitmap table entry", slot, 8, value);
        return true;
    }

    /** Flips 1 to 8 random bytes in one metadata cluster. */
    static boolean byteFlips(Qcow2Mutation m) {
        Qcow2ImageMap.Region region = m.pick(m.map().metadataRegions());
        if (region == null || region.length() <= 0) {
            return false;
        }
        Random r = m.random();
        int flips = 1 + r.nextInt(8);
        for (int i = 0; i < flips; i++) {
            long at = region.offset() + r.nextInt(region.length());
            m.put("byte", at, 1, (m.fits(at, 1) ? m.bytes()[(int) at] : 0) ^ (1 + r.nextInt(255)));
        }
        return true;
    }

    /** Cuts the file: anywhere, or just before or inside a metadata table. */
    static boolean truncate(Qcow2Mutation m) {
        if (m.bytes().length == 0) {
            return false;
        }
        Random r = m.random();
        Qcow2ImageMap.Region region = m.pick(m.map().metadataRegions());
        long length = r.nextBoolean() || region == null ? r.nextLong(m.bytes().length)
                : region.offset() + (r.nextBoolean() ? 0 : r.nextInt(Math.max(1, region.length())));
        m.truncate((int) Math.clamp(length, 0, m.bytes().length));
        return true;
    }
}
