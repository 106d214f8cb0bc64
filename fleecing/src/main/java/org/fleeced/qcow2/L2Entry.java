package org.fleeced.qcow2;

/**
 * One decoded L2 entry (qcow2 spec "Cluster mapping", standard and compressed cluster
 * descriptors). Entries are stored as raw longs in {@link L2Table}; this record is the decoded
 * view, and the static factories build the raw values this driver writes.
 *
 * @param kind            what the guest cluster is
 * @param hostOffset      host offset of the data (cluster aligned) for NORMAL and preallocated
 *                        ZERO clusters, byte offset of the compressed data for COMPRESSED, else 0
 * @param compressedBytes bytes of compressed data to read (COMPRESSED only)
 * @param copied          the COPIED flag: the host cluster's refcount is exactly 1, so it may be
 *                        written in place
 */
public record L2Entry(Kind kind, long hostOffset, int compressedBytes, boolean copied) {

    /** What a guest cluster is. */
    public enum Kind {
        /** Not allocated in this image: read from the backing chain, or zeroes. */
        UNALLOCATED,
        /** Reads as zeroes; the backing chain is not consulted (v3 zero flag). */
        ZERO,
        /** Data at {@code hostOffset}. */
        NORMAL,
        /** Deflate-compressed data at {@code hostOffset}. */
        COMPRESSED
    }

    public static final long COPIED = 1L << 63;
    public static final long COMPRESSED_FLAG = 1L << 62;
    public static final long ZERO_FLAG = 1L;
    /** Bits 9-55 of a standard descriptor (and of an L1 entry): the host offset. */
    public static final long OFFSET_MASK = 0x00ff_ffff_ffff_fe00L;
    /** Bits of a standard descriptor that must be zero: 1-8 and 56-61. */
    private static final long STANDARD_RESERVED = 0x3f00_0000_0000_01feL;

    /** Raw value of an entry mapping a guest cluster to a host cluster with refcount 1. */
    public static long normal(long hostOffset) {
        return hostOffset | COPIED;
    }

    /** Raw value of a zero cluster; {@code hostOffset} != 0 keeps a preallocated cluster. */
    public static long zero(long hostOffset, boolean copied) {
        return hostOffset | ZERO_FLAG | (copied && hostOffset != 0 ? COPIED : 0);
    }

    public boolean hasHostCluster() {
        return kind == Kind.NORMAL || (kind == Kind.ZERO && hostOffset != 0);
    }

    /**
     * Decodes a raw entry. Reserved bits, misaligned offsets and zero flags on images without
     * them are damaged metadata.
     *
     * @throws CorruptionException when the entry cannot be valid
     */
    public static L2Entry decode(long raw, Qcow2Layout layout, boolean zeroFlagAllowed) throws CorruptionException {
        boolean copied = (raw & COPIED) != 0;
        if ((raw & COMPRESSED_FLAG) != 0) {
            if (copied) {
                throw new CorruptionException(String.format("compressed L2 entry 0x%016x has the COPIED flag", raw));
            }
            int shift = layout.compressedSectorShift();
            long offset = raw & ((1L << shift) - 1);
            long extraSectors = (raw & ~(COPIED | COMPRESSED_FLAG)) >>> shift;
            long bytes = (extraSectors + 1) * Qcow2Layout.SECTOR_SIZE - (offset & (Qcow2Layout.SECTOR_SIZE - 1));
            return new L2Entry(Kind.COMPRESSED, offset, (int) bytes, false);
        }
        if ((raw & STANDARD_RESERVED) != 0) {
            throw new CorruptionException(String.format("L2 entry 0x%016x has reserved bits set", raw));
        }
        long host = raw & OFFSET_MASK;
        if (!layout.isClusterAligned(host)) {
            throw new CorruptionException(String.format("L2 entry 0x%016x: host offset not cluster aligned", raw));
        }
        if ((raw & ZERO_FLAG) != 0) {
            if (!zeroFlagAllowed) {
                throw new CorruptionException(String.format("L2 entry 0x%016x: zero flag in a version 2 image", raw));
            }
            return new L2Entry(Kind.ZERO, host, 0, copied && host != 0);
        }
        if (host == 0) {
            if (copied) {
                throw new CorruptionException(String.format("L2 entry 0x%016x: COPIED without a host cluster", raw));
            }
            return new L2Entry(Kind.UNALLOCATED, 0, 0, false);
        }
        return new L2Entry(Kind.NORMAL, host, 0, copied);
    }

    /** Host clusters a compressed cluster's data touches (it may span a cluster boundary). */
    public long compressedFirstCluster(Qcow2Layout layout) {
        return layout.clusterStart(hostOffset);
    }

    public long compressedLastCluster(Qcow2Layout layout) {
        return layout.clusterStart(hostOffset + compressedBytes - 1);
    }
}
