package org.fleeced.qcow2;

import java.util.HashSet;
import java.util.Set;

/**
 * Where the image's metadata lives, so that no data write and no allocation ever lands on it
 * (QEMU's metadata overlap check): the header cluster, the L1 table, the refcount table, every
 * L2 table and refcount block referenced, and regions other metadata owners (snapshots,
 * bitmaps) reserve. An image whose refcounts or mappings would put data there is damaged.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
final class MetadataRegions {
    private final Qcow2Layout layout;
    /** Cluster indices of single-cluster metadata (L2 tables, refcount blocks, reserved). */
    private final Set<Long> clusters = new HashSet<>();
    private long l1Start;
    private long l1End;
    private long reftableStart;
    private long reftableEnd;

    MetadataRegions(Qcow2Layout layout) {
        this.layout = layout;
    }

    void setL1(long offset, long bytes) {
        l1Start = layout.clusterStart(offset);
        l1End = offset + bytes;
    }

    void setReftable(long offset, long bytes) {
        reftableStart = offset;
        reftableEnd = offset + bytes;
    }

    /** Marks a host cluster as metadata (an L2 table, a refcount block, a bitmap table...). */
    void addCluster(long hostOffset) {
        clusters.add(layout.clusterIndex(hostOffset));
    }

    void removeCluster(long hostOffset) {
        clusters.remove(layout.clusterIndex(hostOffset));
    }

    /** Reserves a multi-cluster region (snapshot table, bitmap directory) owned by other code. */
    void addRegion(long offset, long bytes) {
        for (long c = layout.clusterStart(offset); c < offset + bytes; c += layout.clusterSize()) {
            addCluster(c);
        }
    }

    boolean overlaps(long hostOffset) {
        long start = layout.clusterStart(hostOffset);
        long end = start + layout.clusterSize();
        return start == 0
                || (start < l1End && l1Start < end)
                || (start < reftableEnd && reftableStart < end)
                || clusters.contains(layout.clusterIndex(hostOffset));
    }

    /** True when the host cluster holds the header, the L1 table or the refcount table. */
    boolean overlapsFixedTables(long hostOffset) {
        long start = layout.clusterStart(hostOffset);
        long end = start + layout.clusterSize();
        return start == 0 || (start < l1End && l1Start < end) || (start < reftableEnd && reftableStart < end);
    }

    /** @throws CorruptionException when the host cluster holds metadata */
    void checkNotMetadata(long hostOffset, String use) throws CorruptionException {
        if (overlaps(hostOffset)) {
            throw new CorruptionException(use + " at host offset " + hostOffset + " overlaps metadata");
        }
    }
}
