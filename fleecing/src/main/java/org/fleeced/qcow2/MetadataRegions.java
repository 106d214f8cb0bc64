package org.fleeced.qcow2;

import java.util.HashSet;
import java.util.Set;

/**
 * Where the image's metadata lives, so that no data write and no allocation ever lands on it
 * (QEMU's metadata overlap check): the header cluster, the L1 table, the refcount table, every
 * L2 table and refcount block referenced, and regions other metadata owners (snapshots,
 * bitmaps) reserve. An image whose refcounts or mappings would put data there is damaged.
 *
 * <p>The driver's own tables and the regions other owners reserve are kept apart: a release
 * ends only a reservation, so a cluster that a damaged image gives two owners (a bitmap table
 * that a refcount table entry also names as a refcount block) stays protected when the bitmaps
 * code frees its part of it.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
final class MetadataRegions {
    private final Qcow2Layout layout;
    /** Cluster indices of the driver's single-cluster tables (L2 tables, refcount blocks). */
    private final Set<Long> clusters = new HashSet<>();
    /** Cluster indices other owners reserved (bitmap tables and directory, snapshots) until they release them. */
    private final Set<Long> reserved = new HashSet<>();
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

    /** Marks a host cluster as one of the driver's tables (an L2 table, a refcount block). */
    void addCluster(long hostOffset) {
        clusters.add(layout.clusterIndex(hostOffset));
    }

    /** Ends a reservation made with {@link #addRegion}; the driver's own tables stay protected. */
    void releaseRegion(long offset, long bytes) {
        for (long c = layout.clusterStart(offset); c < offset + bytes; c += layout.clusterSize()) {
            reserved.remove(layout.clusterIndex(c));
        }
    }

    /** Reserves a multi-cluster region (snapshot table, bitmap directory) owned by other code. */
    void addRegion(long offset, long bytes) {
        for (long c = layout.clusterStart(offset); c < offset + bytes; c += layout.clusterSize()) {
            reserved.add(layout.clusterIndex(c));
        }
    }

    boolean overlaps(long hostOffset) {
        long start = layout.clusterStart(hostOffset);
        long end = start + layout.clusterSize();
        return start == 0
                || (start < l1End && l1Start < end)
                || (start < reftableEnd && reftableStart < end)
                || clusters.contains(layout.clusterIndex(hostOffset))
                || reserved.contains(layout.clusterIndex(hostOffset));
    }

    /** True when the host cluster is one of the driver's own: a fixed table, an L2 table or a refcount block. */
    boolean isDriverTable(long hostOffset) {
        return overlapsFixedTables(hostOffset) || clusters.contains(layout.clusterIndex(hostOffset));
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
