package org.fleeced.qcow2.bitmap;

/**
 * One 64-bit bitmap table entry (qcow2 spec "Bitmap table"): bits 9-55 the host offset of a data
 * cluster; with offset 0, bit 0 says whether the cluster reads as all ones (1) or all zeroes
 * (0). Every other bit is reserved, and bit 0 must be 0 when there is an offset.
 */
final class BitmapTableEntry {
    static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    static final long ALL_ONES = 1L;
    static final long ALL_ZEROES = 0L;
    private static final long RESERVED = ~(OFFSET_MASK | ALL_ONES);

    private BitmapTableEntry() {
    }

    static long dataCluster(long hostOffset) {
        return hostOffset & OFFSET_MASK;
    }

    static long hostOffset(long entry) {
        return entry & OFFSET_MASK;
    }

    static boolean allOnes(long entry) {
        return (entry & OFFSET_MASK) == 0 && (entry & ALL_ONES) != 0;
    }

    /**
     * Why the entry is invalid for an image whose used clusters end at {@code hostEnd}, or null
     * when it is valid.
     */
    static String problem(long entry, int clusterSize, long hostEnd) {
        if ((entry & RESERVED) != 0) {
            return String.format("reserved bits set in entry 0x%016x", entry);
        }
        long offset = hostOffset(entry);
        if (offset == 0) {
            return null;
        }
        if ((entry & ALL_ONES) != 0) {
            return String.format("entry 0x%016x has both a data cluster and the all-ones bit", entry);
        }
        if ((offset & (clusterSize - 1)) != 0) {
            return "data cluster " + offset + " is not cluster aligned";
        }
        if (offset > hostEnd - clusterSize) {
            return "data cluster " + offset + " lies past the end of the image (" + hostEnd + ")";
        }
        return null;
    }
}
