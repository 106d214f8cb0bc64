package org.fleeced.qcow2;

import org.fleeced.block.Alignment;

/**
 * The geometry of one image: cluster size, L2 and refcount block shapes, and the index
 * arithmetic that maps guest offsets to L1/L2 slots and host offsets to refcount slots. This is
 * the only place that arithmetic is written (qcow2 spec "Cluster mapping" and "Host cluster
 * management"); every other class asks here.
 *
 * <p>Immutable.
 */
public final class Qcow2Layout {
    /** Smallest and largest cluster_bits accepted (512 B to 2 MiB), as QEMU. */
    public static final int MIN_CLUSTER_BITS = 9;
    public static final int MAX_CLUSTER_BITS = 21;
    /** refcount_order 0..6: 1- to 64-bit refcounts. */
    public static final int MAX_REFCOUNT_ORDER = 6;
    /** Size of every L1, L2 and refcount table entry. */
    public static final int TABLE_ENTRY_BYTES = 8;
    /** Compressed cluster sizes are counted in these units. */
    public static final int SECTOR_SIZE = 512;

    private final int clusterBits;
    private final int refcountOrder;

    public Qcow2Layout(int clusterBits, int refcountOrder) {
        if (clusterBits < MIN_CLUSTER_BITS || clusterBits > MAX_CLUSTER_BITS) {
            throw new IllegalArgumentException("cluster_bits " + clusterBits + " out of range "
                    + MIN_CLUSTER_BITS + ".." + MAX_CLUSTER_BITS);
        }
        if (refcountOrder < 0 || refcountOrder > MAX_REFCOUNT_ORDER) {
            throw new IllegalArgumentException("refcount_order " + refcountOrder + " out of range 0..6");
        }
        this.clusterBits = clusterBits;
        this.refcountOrder = refcountOrder;
    }

    public int clusterBits() {
        return clusterBits;
    }

    public int clusterSize() {
        return 1 << clusterBits;
    }

    public int refcountOrder() {
        return refcountOrder;
    }

    public int refcountBits() {
        return 1 << refcountOrder;
    }

    /** The largest refcount a refcount block entry can hold. */
    public long maxRefcount() {
        return refcountOrder == 6 ? Long.MAX_VALUE : (1L << refcountBits()) - 1;
    }

    /** Entries per L2 table (one cluster of 8-byte entries). */
    public int l2Entries() {
        return clusterSize() / TABLE_ENTRY_BYTES;
    }

    /** Guest bytes one L2 table maps. */
    public long bytesPerL2Table() {
        return (long) l2Entries() << clusterBits;
    }

    /** Refcount entries per refcount block. */
    public int refblockEntries() {
        return (int) (((long) clusterSize() * 8) >> refcountOrder);
    }

    /** Host bytes one refcount block describes. */
    public long bytesPerRefblock() {
        return (long) refblockEntries() << clusterBits;
    }

    /** Entries per cluster of the refcount table. */
    public int reftableEntriesPerCluster() {
        return clusterSize() / TABLE_ENTRY_BYTES;
    }

    public long clusterStart(long offset) {
        return Alignment.alignDown(offset, clusterSize());
    }

    public int offsetInCluster(long offset) {
        return (int) (offset & (clusterSize() - 1));
    }

    public boolean isClusterAligned(long offset) {
        return Alignment.isAligned(offset, clusterSize());
    }

    /** Number of clusters that {@code bytes} bytes occupy, rounded up. */
    public long clustersFor(long bytes) {
        return Alignment.alignUp(bytes, clusterSize()) >>> clusterBits;
    }

    public long clusterIndex(long offset) {
        return offset >>> clusterBits;
    }

    public long clusterOffset(long clusterIndex) {
        return clusterIndex << clusterBits;
    }

    /** L1 slot of a guest offset. */
    public long l1Index(long guestOffset) {
        return guestOffset / bytesPerL2Table();
    }

    /** L2 slot of a guest offset within its table. */
    public int l2Index(long guestOffset) {
        return (int) (clusterIndex(guestOffset) & (l2Entries() - 1));
    }

    /** L1 entries needed to map a virtual disk of {@code sizeBytes}. */
    public long l1EntriesFor(long sizeBytes) {
        return (sizeBytes + bytesPerL2Table() - 1) / bytesPerL2Table();
    }

    /** Refcount table slot that covers a host offset. */
    public long reftableIndex(long hostOffset) {
        return clusterIndex(hostOffset) / refblockEntries();
    }

    /** Entry within its refcount block that counts a host offset's cluster. */
    public int refblockIndex(long hostOffset) {
        return (int) (clusterIndex(hostOffset) % refblockEntries());
    }

    /** Host offset of the first cluster a refcount table slot describes. */
    public long firstHostOffsetOfRefblock(long reftableIndex) {
        return reftableIndex * bytesPerRefblock();
    }

    /** Bit position where a compressed descriptor's sector count starts (spec: x = 62 - (cluster_bits - 8)). */
    public int compressedSectorShift() {
        return 62 - (clusterBits - 8);
    }

    @Override
    public String toString() {
        return "cluster " + clusterSize() + " B, " + refcountBits() + "-bit refcounts";
    }
}
