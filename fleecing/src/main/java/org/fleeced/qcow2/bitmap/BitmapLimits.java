package org.fleeced.qcow2.bitmap;

import java.nio.charset.StandardCharsets;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * The limits a bitmap directory must respect (qcow2 spec "Bitmaps extension" and "Bitmap
 * directory", with QEMU's implementation limits, so that every image fleeced writes opens in
 * QEMU and no image can make fleeced allocate without bound).
 */
final class BitmapLimits {
    /** QEMU: at most 65535 bitmaps per image. */
    static final int MAX_BITMAPS = 65535;
    /** QEMU: names of 1 to 1023 bytes. */
    static final int MAX_NAME_BYTES = 1023;
    /** QEMU: granularity_bits 9 to 31 (512 B to 2 GiB per bit). */
    static final int MIN_GRANULARITY_BITS = 9;
    static final int MAX_GRANULARITY_BITS = 31;
    /** QEMU: a bitmap table of at most 2^27 entries. */
    static final long MAX_TABLE_ENTRIES = 0x8000000L;
    /** QEMU: at most 512 MiB of bitmap data (bits) per bitmap. */
    static final long MAX_BITMAP_DATA_BYTES = 0x20000000L;
    /** Extra data fleeced is willing to carry along for a bitmap it cannot use. */
    static final int MAX_EXTRA_DATA_BYTES = 1 << 16;
    /** The directory is read whole: 65535 entries of the largest size fit in 64 MiB. */
    static final long MAX_DIRECTORY_BYTES = 64L << 20;

    private BitmapLimits() {
    }

    /** Bytes of bitmap data for a disk: one bit per granule, rounded up to bytes. */
    static long dataBytes(long diskSize, int granularityBits) {
        long bits = (diskSize >>> granularityBits) + ((diskSize & ((1L << granularityBits) - 1)) != 0 ? 1 : 0);
        return (bits + 7) / 8;
    }

    /**
     * Checks a new bitmap's name and granularity; with {@code persistentDiskSize} non-zero also
     * that QEMU could load it as a persistent bitmap of a disk that size.
     *
     * @return the granularity's bits
     * @throws BlockIOException EINVAL for a bad name or granularity, or one too fine for the disk
     */
    static int checkNew(String name, long granularity, long persistentDiskSize) throws BlockIOException {
        byte[] raw = name.getBytes(StandardCharsets.UTF_8);
        if (raw.length == 0 || raw.length > MAX_NAME_BYTES) {
            throw new BlockIOException(Errno.EINVAL, "bitmap names have 1 to " + MAX_NAME_BYTES + " bytes, '" + name + "' has " + raw.length);
        }
        int bits = Long.numberOfTrailingZeros(granularity);
        if (Long.bitCount(granularity) != 1 || bits < MIN_GRANULARITY_BITS || bits > MAX_GRANULARITY_BITS) {
            throw new BlockIOException(Errno.EINVAL, "granularity " + granularity + " is not a power of two from 512 B to 2 GiB");
        }
        if (persistentDiskSize > 0 && dataBytes(persistentDiskSize, bits) > MAX_BITMAP_DATA_BYTES) {
            // QEMU's limit, which the loader enforces too: a larger bitmap would be stored and never load.
            throw new BlockIOException(Errno.EINVAL, "a persistent bitmap of granularity " + granularity + " over "
                    + persistentDiskSize + " bytes needs more than " + MAX_BITMAP_DATA_BYTES
                    + " bytes of bitmap data; use a coarser granularity");
        }
        return bits;
    }
}
