package org.fleeced.qcow2.bitmap;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One bitmap directory entry (qcow2 spec "Bitmap directory"): u64 bitmap_table_offset, u32
 * bitmap_table_size, u32 flags, u8 type, u8 granularity_bits, u16 name_size, u32
 * extra_data_size, the extra data, the name, zero padding to 8 bytes.
 *
 * @param tableOffset     host offset of the bitmap table (cluster aligned)
 * @param tableSize       entries in the bitmap table
 * @param flags           {@link #IN_USE}, {@link #AUTO}, {@link #EXTRA_DATA_COMPATIBLE}
 * @param type            1 for a dirty tracking bitmap
 * @param granularityBits log2 of the bytes per bit
 * @param name            the name, raw bytes (unique, not NUL-terminated)
 * @param extraData       type-specific extra data, kept as found
 */
record BitmapDirectoryEntry(long tableOffset, int tableSize, int flags, int type, int granularityBits,
                            byte[] name, byte[] extraData) {
    /** The bitmap may be inconsistent: it was not stored after the last change (open read-write, or a crash). */
    static final int IN_USE = 1;
    /** The bitmap is enabled: it records every write. */
    static final int AUTO = 1 << 1;
    /** Unknown extra data may be left as is while the bitmap is used. */
    static final int EXTRA_DATA_COMPATIBLE = 1 << 2;
    static final int RESERVED_FLAGS = ~(IN_USE | AUTO | EXTRA_DATA_COMPATIBLE);
    static final int TYPE_DIRTY_TRACKING = 1;
    static final int FIXED_BYTES = 24;

    BitmapDirectoryEntry {
        name = name.clone();
        extraData = extraData.clone();
    }

    @Override
    public byte[] name() {
        return name.clone();
    }

    @Override
    public byte[] extraData() {
        return extraData.clone();
    }

    String nameString() {
        return new String(name, StandardCharsets.UTF_8);
    }

    boolean inUse() {
        return (flags & IN_USE) != 0;
    }

    boolean auto() {
        return (flags & AUTO) != 0;
    }

    long granularity() {
        return 1L << granularityBits;
    }

    /** Whether fleeced can load the bits: no extra data it would have to understand. */
    boolean usable() {
        return extraData.length == 0 || (flags & EXTRA_DATA_COMPATIBLE) != 0;
    }

    BitmapDirectoryEntry withFlags(int newFlags) {
        return new BitmapDirectoryEntry(tableOffset, tableSize, newFlags, type, granularityBits, name, extraData);
    }

    BitmapDirectoryEntry withTable(long offset, int size) {
        return new BitmapDirectoryEntry(offset, size, flags, type, granularityBits, name, extraData);
    }

    /** Bytes the entry occupies in the directory, padding included. */
    int encodedSize() {
        return (FIXED_BYTES + extraData.length + name.length + 7) & ~7;
    }

    void encode(ByteBuffer dst) {
        int start = dst.position();
        dst.putLong(tableOffset).putInt(tableSize).putInt(flags).put((byte) type).put((byte) granularityBits)
                .putShort((short) name.length).putInt(extraData.length).put(extraData).put(name);
        while (dst.position() < start + encodedSize()) {
            dst.put((byte) 0);
        }
    }
}
