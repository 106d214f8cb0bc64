package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The three feature bit fields of a version 3 header (qcow2 spec "Header", bytes 72-95) and the
 * bits this driver knows. A version 2 image has all three fields zero.
 *
 * @param incompatible bits that a reader must understand to open the image at all
 * @param compatible   bits that may be ignored
 * @param autoclear    bits that a writer which does not understand them must clear
 */
public record FeatureBits(long incompatible, long compatible, long autoclear) {
    /** Incompatible bit 0: refcounts may be stale (lazy refcounts); repair before use. */
    public static final long INCOMPAT_DIRTY = 1L;
    /** Incompatible bit 1: metadata is damaged; must not be written except to repair it. */
    public static final long INCOMPAT_CORRUPT = 1L << 1;
    /** Incompatible bit 2: data lives in an external file. Not supported. */
    public static final long INCOMPAT_EXTERNAL_DATA = 1L << 2;
    /** Incompatible bit 3: compression type field is non-zero. Not supported (only zlib). */
    public static final long INCOMPAT_COMPRESSION_TYPE = 1L << 3;
    /** Incompatible bit 4: extended L2 entries (subclusters). Not supported. */
    public static final long INCOMPAT_EXTENDED_L2 = 1L << 4;
    /** The incompatible bits this driver can open images with. */
    public static final long KNOWN_INCOMPATIBLE = INCOMPAT_DIRTY | INCOMPAT_CORRUPT;

    /** Compatible bit 0: refcount updates may be postponed while the dirty bit is set. */
    public static final long COMPAT_LAZY_REFCOUNTS = 1L;

    /** Autoclear bit 0: the bitmaps extension is consistent with the image. */
    public static final long AUTOCLEAR_BITMAPS = 1L;
    /** Autoclear bit 1: the external data file is a valid raw image. */
    public static final long AUTOCLEAR_RAW_EXTERNAL = 1L << 1;

    public static final FeatureBits NONE = new FeatureBits(0, 0, 0);

    public boolean has(long incompatibleBit) {
        return (incompatible & incompatibleBit) != 0;
    }

    public FeatureBits withIncompatible(long bit, boolean set) {
        return new FeatureBits(set ? incompatible | bit : incompatible & ~bit, compatible, autoclear);
    }

    public FeatureBits withAutoclear(long bits) {
        return new FeatureBits(incompatible, compatible, bits);
    }

    public boolean lazyRefcounts() {
        return (compatible & COMPAT_LAZY_REFCOUNTS) != 0;
    }

    /** Incompatible bits set here that this driver does not support. */
    public long unsupportedIncompatible() {
        return incompatible & ~KNOWN_INCOMPATIBLE;
    }

    /**
     * Names the incompatible bits in {@code bits}, taking names from the image's feature name
     * table (header extension 0x6803f857) where it has them, else from the spec, else "bit N".
     */
    public static String describeIncompatible(long bits, HeaderExtension nameTable) {
        List<String> names = new ArrayList<>();
        for (int bit = 0; bit < 64; bit++) {
            if ((bits & (1L << bit)) != 0) {
                String name = nameFromTable(nameTable, bit);
                names.add(name != null ? name : specName(bit));
            }
        }
        return String.join(", ", names);
    }

    private static String specName(int bit) {
        return switch (bit) {
            case 0 -> "dirty bit";
            case 1 -> "corrupt bit";
            case 2 -> "external data file";
            case 3 -> "compression type";
            case 4 -> "extended L2 entries";
            default -> "unknown incompatible feature bit " + bit;
        };
    }

    /** Feature name table entries are 48 bytes: u8 type (0 = incompatible), u8 bit, 46-byte name. */
    private static String nameFromTable(HeaderExtension table, int bit) {
        if (table == null) {
            return null;
        }
        ByteBuffer data = ByteBuffer.wrap(table.data());
        while (data.remaining() >= 48) {
            int type = data.get() & 0xff;
            int entryBit = data.get() & 0xff;
            byte[] name = new byte[46];
            data.get(name);
            if (type == 0 && entryBit == bit) {
                int len = 0;
                while (len < name.length && name[len] != 0) {
                    len++;
                }
                return new String(name, 0, len, StandardCharsets.UTF_8) + " (incompatible bit " + bit + ")";
            }
        }
        return null;
    }
}
