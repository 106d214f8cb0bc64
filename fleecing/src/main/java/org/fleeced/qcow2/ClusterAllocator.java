package org.fleeced.qcow2;

import org.fleeced.block.BlockIOException;

/**
 * Finds free host clusters and counts them as used (qcow2 spec "Host cluster management").
 *
 * <p>First fit from {@code freeHint}: the lowest host cluster with refcount 0, so freed clusters
 * are reused before the file grows. Every cluster from {@link #freeFrom} on is free: past the file,
 * every allocation and every cluster the refcounts count (a truncated image may count clusters it
 * no longer holds, maybe still mapped). A cluster whose refcount block does not exist yet becomes
 * that refcount block itself (the block then counts itself), and a refcount table too small for a
 * host offset is grown by {@link RefcountTableGrower}.
 *
 * <p>Before growing the file while freed clusters wait for their release (see
 * {@link Qcow2Metadata}), the allocator asks its owner to release them; that is the
 * {@code releasePendingFrees} hook.
 *
 * <p>Refcount changes are made in the refcount cache only; the caller's metadata flush writes
 * them before any L2 or L1 entry that references the cluster.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
final class ClusterAllocator {
    /**
     * Clusters the refcounts may count past the end of the file before that is damage, not a
     * leak: a crash can leave a few allocations counted whose first write never reached the file
     * (QEMU's refcount cache is written back on its own schedule), but thousands mean a garbage
     * refcount block, and honouring it would put new clusters gigabytes past the file.
     */
    private static final long MAX_COUNTED_PAST_FILE = 1024;

    /** Releases deferred frees; returns true when any were released. */
    interface PendingFrees {
        boolean releasePendingFrees() throws BlockIOException;
    }

    private final Qcow2Layout layout;
    private final Refcounts refcounts;
    private final MetadataRegions regions;
    private final RefcountTableGrower grower;
    private final PendingFrees pendingFrees;
    /** Why nothing may be allocated (damage found at open), or null. */
    private final String countedFarPastFile;
    /** No free cluster lies below this cluster index. */
    private long freeHint;
    /**
     * Host offset past the file as opened and every cluster allocated since: a reference at or
     * past it points at nothing (damage).
     */
    private long hostEnd;
    /**
     * Host offset past every cluster the refcounts counted at open, at least the file's end: a
     * truncated image may count clusters it no longer holds, which a reference may still name.
     * From {@code max(hostEnd, countedEnd)} on, every cluster is free.
     */
    private final long countedEnd;

    ClusterAllocator(Qcow2Layout layout, Refcounts refcounts, MetadataRegions regions, RefcountTableGrower grower,
                     PendingFrees pendingFrees, long fileSize) throws BlockIOException {
        this.layout = layout;
        this.refcounts = refcounts;
        this.regions = regions;
        this.grower = grower;
        this.pendingFrees = pendingFrees;
        long fileEnd = layout.clusterStart(fileSize + layout.clusterSize() - 1);
        long counted = layout.clusterStart(refcounts.inUseEnd(fileEnd) + layout.clusterSize() - 1);
        this.hostEnd = fileEnd;
        if (layout.clusterIndex(counted - fileEnd) > MAX_COUNTED_PAST_FILE) {
            this.countedFarPastFile = "refcounts count host clusters up to offset " + counted
                    + ", far past the end of the file (" + fileSize + ")";
            this.countedEnd = fileEnd;
        } else {
            this.countedFarPastFile = null;
            this.countedEnd = counted;
        }
        this.freeHint = 1;
    }

    long hostEnd() {
        return hostEnd;
    }

    /** Where every cluster is free: past the file, every allocation and every counted cluster. */
    long freeFrom() {
        return Math.max(hostEnd, countedEnd);
    }

    /** Extends the known end after someone else (the grower) placed clusters there. */
    void advanceHostEnd(long newEnd) {
        hostEnd = Math.max(hostEnd, newEnd);
    }

    /**
     * Allocates {@code count} contiguous free host clusters with refcount 1 each.
     *
     * @return host offset of the first
     */
    long allocate(int count) throws BlockIOException {
        if (countedFarPastFile != null) {
            throw new CorruptionException(countedFarPastFile);
        }
        while (true) {
            long first = findFreeRun(count);
            if (first < 0) {
                continue;
            }
            if (placeMissingRefcountStructures(first, count)) {
                continue;
            }
            for (int i = 0; i < count; i++) {
                long host = first + layout.clusterOffset(i);
                regions.checkNotMetadata(host, "cluster allocation (refcount 0)");
                refcounts.set(host, 1);
            }
            if (layout.clusterIndex(first) == freeHint) {
                freeHint += count;
            }
            hostEnd = Math.max(hostEnd, first + layout.clusterOffset(count));
            return first;
        }
    }

    /** Drops one reference; the cluster is free for reuse when it reaches zero. */
    void decrement(long hostOffset) throws BlockIOException {
        long rc = refcounts.get(hostOffset);
        if (rc == 0) {
            throw new CorruptionException("freeing host cluster " + hostOffset + " whose refcount is already 0");
        }
        refcounts.set(hostOffset, rc - 1);
        if (rc == 1) {
            freeHint = Math.min(freeHint, layout.clusterIndex(hostOffset));
        }
    }

    /** Adds one reference to a cluster in use (for callers that share clusters). */
    void increment(long hostOffset) throws BlockIOException {
        long rc = refcounts.get(hostOffset);
        refcounts.set(hostOffset, rc + 1);
    }

    /** First cluster of a free run, or -1 when the caller must retry (pending frees released). */
    private long findFreeRun(int count) throws BlockIOException {
        long run = 0;
        for (long index = freeHint; ; index++) {
            long host = layout.clusterOffset(index);
            if (host >= freeFrom()) {
                if (pendingFrees.releasePendingFrees()) {
                    return -1;
                }
                return layout.clusterOffset(index - run);
            }
            if (refcounts.get(host) == 0) {
                if (++run == count) {
                    return layout.clusterOffset(index - count + 1);
                }
            } else {
                run = 0;
                if (index == freeHint) {
                    freeHint++;
                }
            }
        }
    }

    /**
     * Makes sure refcount blocks (and table slots) exist for {@code [first, first + count)}.
     *
     * @return true when something was placed and the search must start again
     */
    private boolean placeMissingRefcountStructures(long first, int count) throws BlockIOException {
        for (int i = 0; i < count; i++) {
            long host = first + layout.clusterOffset(i);
            if (!refcounts.tableCovers(host)) {
                grower.grow(layout.reftableIndex(host), this);
                return true;
            }
            if (!refcounts.hasBlockFor(host)) {
                // The free cluster becomes the block that counts it: no other cluster is needed.
                regions.checkNotMetadata(host, "new refcount block");
                refcounts.installBlock(host, host);
                refcounts.set(host, 1);
                hostEnd = Math.max(hostEnd, host + layout.clusterSize());
                return true;
            }
        }
        return false;
    }
}
