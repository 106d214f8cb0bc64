package org.fleeced.qcow2.bitmap;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.bitmaps.Qcow2BitmapLayout;

/**
 * Parsing and encoding the bitmap directory (qcow2 spec "Bitmap directory"), with every check
 * that keeps a damaged or hostile directory from being trusted: entry count and total size as
 * the extension says, reserved flags and padding zero, known type, granularity and name within
 * QEMU's limits, unique names, a table of exactly the size the disk needs, inside the image.
 * Any violation is EIO; nothing here allocates more than the (bounded) directory itself.
 */
final class BitmapDirectory {
    private BitmapDirectory() {
    }

    /**
     * Parses {@code count} entries filling {@code dir} exactly.
     *
     * @param diskSize    the image's virtual size (fixes every table's size)
     * @param clusterSize the image's cluster size
     * @param hostEnd     host offset past every used cluster
     */
    static List<BitmapDirectoryEntry> parse(ByteBuffer dir, int count, long diskSize, int clusterSize, long hostEnd)
            throws BlockIOException {
        List<BitmapDirectoryEntry> entries = new ArrayList<>(Math.min(count, 1024));
        Set<String> names = new HashSet<>();
        ByteBuffer b = dir.duplicate();
        for (int i = 0; i < count; i++) {
            BitmapDirectoryEntry e = parseEntry(b, i);
            String problem = problem(e, diskSize, clusterSize, hostEnd);
            if (problem != null) {
                throw BitmapsExtension.damaged("bitmap '" + e.nameString() + "' (entry " + i + "): " + problem);
            }
            if (!names.add(e.nameString())) {
                throw BitmapsExtension.damaged("two bitmaps are named '" + e.nameString() + "'");
            }
            entries.add(e);
        }
        if (b.hasRemaining()) {
            throw BitmapsExtension.damaged("the directory has " + b.remaining() + " bytes after its " + count + " entries");
        }
        return entries;
    }

    private static BitmapDirectoryEntry parseEntry(ByteBuffer b, int index) throws BlockIOException {
        int start = b.position();
        if (b.remaining() < BitmapDirectoryEntry.FIXED_BYTES) {
            throw BitmapsExtension.damaged("entry " + index + " runs past the end of the directory");
        }
        long tableOffset = b.getLong();
        long tableSize = Integer.toUnsignedLong(b.getInt());
        int flags = b.getInt();
        int type = b.get() & 0xff;
        int granularityBits = b.get() & 0xff;
        int nameSize = b.getShort() & 0xffff;
        long extraSize = Integer.toUnsignedLong(b.getInt());
        if (extraSize > BitmapLimits.MAX_EXTRA_DATA_BYTES) {
            throw BitmapsExtension.damaged("entry " + index + " has " + extraSize + " bytes of extra data");
        }
        long entryBytes = (BitmapDirectoryEntry.FIXED_BYTES + extraSize + nameSize + 7) & ~7L;
        if (entryBytes > b.limit() - start) {
            throw BitmapsExtension.damaged("entry " + index + " (" + entryBytes + " bytes) runs past the end of the directory");
        }
        if (tableSize > BitmapLimits.MAX_TABLE_ENTRIES) {
            throw BitmapsExtension.damaged("entry " + index + " has a bitmap table of " + tableSize + " entries");
        }
        byte[] extra = new byte[(int) extraSize];
        b.get(extra);
        byte[] name = new byte[nameSize];
        b.get(name);
        while (b.position() < start + entryBytes) {
            if (b.get() != 0) {
                throw BitmapsExtension.damaged("entry " + index + " has non-zero padding");
            }
        }
        return new BitmapDirectoryEntry(tableOffset, (int) tableSize, flags, type, granularityBits, name, extra);
    }

    /** Why an entry breaks the spec or QEMU's limits, or null. */
    static String problem(BitmapDirectoryEntry e, long diskSize, int clusterSize, long hostEnd) {
        if ((e.flags() & BitmapDirectoryEntry.RESERVED_FLAGS) != 0) {
            return String.format("reserved flags 0x%08x set", e.flags());
        }
        if (e.type() != BitmapDirectoryEntry.TYPE_DIRTY_TRACKING) {
            return "unknown type " + e.type();
        }
        if (e.granularityBits() < BitmapLimits.MIN_GRANULARITY_BITS
                || e.granularityBits() > BitmapLimits.MAX_GRANULARITY_BITS) {
            return "granularity_bits " + e.granularityBits() + " outside " + BitmapLimits.MIN_GRANULARITY_BITS
                    + ".." + BitmapLimits.MAX_GRANULARITY_BITS;
        }
        if (e.name().length == 0 || e.name().length > BitmapLimits.MAX_NAME_BYTES) {
            return "name of " + e.name().length + " bytes (1.." + BitmapLimits.MAX_NAME_BYTES + " allowed)";
        }
        if (BitmapLimits.dataBytes(diskSize, e.granularityBits()) > BitmapLimits.MAX_BITMAP_DATA_BYTES) {
            return "the bitmap would need more than " + BitmapLimits.MAX_BITMAP_DATA_BYTES + " bytes";
        }
        long expected = Qcow2BitmapLayout.tableSize(diskSize, e.granularity(), clusterSize);
        if (Integer.toUnsignedLong(e.tableSize()) != expected) {
            return "bitmap table of " + Integer.toUnsignedString(e.tableSize()) + " entries, the disk needs " + expected;
        }
        long tableBytes = expected * 8;
        if (e.tableOffset() <= 0 || (e.tableOffset() & (clusterSize - 1)) != 0) {
            return "bitmap table offset " + Long.toUnsignedString(e.tableOffset()) + " is not a cluster-aligned offset past the header";
        }
        if (e.tableOffset() > hostEnd || tableBytes > hostEnd - e.tableOffset()) {
            return "bitmap table at " + e.tableOffset() + " (+" + tableBytes + ") lies past the end of the image (" + hostEnd + ")";
        }
        return null;
    }

    /** The directory bytes for {@code entries}, in order. */
    static ByteBuffer encode(List<BitmapDirectoryEntry> entries) {
        int size = 0;
        for (BitmapDirectoryEntry e : entries) {
            size += e.encodedSize();
        }
        ByteBuffer b = ByteBuffer.allocate(size);
        for (BitmapDirectoryEntry e : entries) {
            e.encode(b);
        }
        return b.flip();
    }
}
