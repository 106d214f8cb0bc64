package org.fleeced.qcow2.bitmap;

import java.nio.ByteBuffer;
import org.fleeced.block.BlockIOException;
import org.fleeced.qcow2.CorruptionException;
import org.fleeced.qcow2.HeaderExtension;

/**
 * The bitmaps header extension (qcow2 spec "Bitmaps extension", type 0x23852875): where the
 * bitmap directory is and how many entries it has. 24 bytes: u32 nb_bitmaps, u32 reserved 0,
 * u64 bitmap_directory_size, u64 bitmap_directory_offset.
 *
 * @param count           nb_bitmaps, 1 to 65535
 * @param directoryBytes  bitmap_directory_size
 * @param directoryOffset bitmap_directory_offset, cluster aligned
 */
record BitmapsExtension(int count, long directoryBytes, long directoryOffset) {
    static final int LENGTH = 24;

    /** Parses and checks the extension against the image; any damage is EIO. */
    static BitmapsExtension parse(HeaderExtension ext, int clusterSize, long hostEnd) throws BlockIOException {
        byte[] data = ext.data();
        if (data.length != LENGTH) {
            throw damaged("the extension has " + data.length + " bytes, not " + LENGTH);
        }
        ByteBuffer b = ByteBuffer.wrap(data);
        long count = Integer.toUnsignedLong(b.getInt(0));
        int reserved = b.getInt(4);
        long size = b.getLong(8);
        long offset = b.getLong(16);
        if (count < 1 || count > BitmapLimits.MAX_BITMAPS) {
            throw damaged("nb_bitmaps " + count + " outside 1.." + BitmapLimits.MAX_BITMAPS);
        }
        if (reserved != 0) {
            throw damaged("reserved field is " + reserved);
        }
        if (size < count * 24L || size > BitmapLimits.MAX_DIRECTORY_BYTES) {
            throw damaged("bitmap_directory_size " + Long.toUnsignedString(size) + " invalid for " + count + " bitmaps");
        }
        if (offset <= 0 || (offset & (clusterSize - 1)) != 0) {
            throw damaged("bitmap_directory_offset " + Long.toUnsignedString(offset) + " is not a cluster-aligned offset past the header");
        }
        if (offset > hostEnd || size > hostEnd - offset) {
            throw damaged("bitmap directory at " + offset + " (+" + size + ") lies past the end of the image (" + hostEnd + ")");
        }
        return new BitmapsExtension((int) count, size, offset);
    }

    HeaderExtension encode() {
        ByteBuffer b = ByteBuffer.allocate(LENGTH);
        b.putInt(count).putInt(0).putLong(directoryBytes).putLong(directoryOffset);
        return new HeaderExtension(HeaderExtension.BITMAPS, b.array());
    }

    static BlockIOException damaged(String why) {
        return new CorruptionException("bitmaps extension: " + why);
    }
}
