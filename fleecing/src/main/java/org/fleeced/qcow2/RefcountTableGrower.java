package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * Moves the refcount table to a larger place when a host offset has no slot in it.
 *
 * <p>The new table goes at the end of the file, followed by the new refcount blocks needed to
 * count the table and themselves (found by iterating to a fixed point). Ordering: the refcount
 * blocks are written and synced, then the new table is written and synced, then the header is
 * pointed at it and synced; only then are the old table's clusters released. A crash at any
 * point leaves the old table in force (new clusters leak) or the complete new one.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
final class RefcountTableGrower {
    private final Qcow2Layout layout;
    private final PositionalFile file;
    private final HeaderStore header;
    private final Refcounts refcounts;

    RefcountTableGrower(Qcow2Layout layout, PositionalFile file, HeaderStore header, Refcounts refcounts) {
        this.layout = layout;
        this.file = file;
        this.header = header;
        this.refcounts = refcounts;
    }

    void grow(long neededIndex, ClusterAllocator allocator) throws BlockIOException {
        RefcountTable old = refcounts.table();
        long start = allocator.freeFrom();
        int perCluster = layout.reftableEntriesPerCluster();
        long entries = Math.max(neededIndex + 1, old.size() * 2L);
        long tableClusters;
        long newBlocks = 0;
        while (true) {
            tableClusters = (entries + perCluster - 1) / perCluster;
            if (tableClusters * layout.clusterSize() > Qcow2Header.MAX_REFTABLE_BYTES) {
                throw new BlockIOException(Errno.ENOSPC, "refcount table would exceed "
                        + Qcow2Header.MAX_REFTABLE_BYTES + " bytes; the image cannot grow further");
            }
            long end = start + layout.clusterOffset(tableClusters + newBlocks);
            long missing = countMissingBlocks(old, start, end);
            long lastIndex = layout.reftableIndex(end - 1);
            if (missing == newBlocks && lastIndex < entries) {
                break;
            }
            newBlocks = missing;
            entries = Math.max(entries, lastIndex + 1);
        }
        long end = start + layout.clusterOffset(tableClusters + newBlocks);
        RefcountTable grown = old.grownCopy(start, (int) tableClusters, layout);
        refcounts.useTable(grown);
        long blockOffset = start + layout.clusterOffset(tableClusters);
        for (long index = layout.reftableIndex(start); index <= layout.reftableIndex(end - 1); index++) {
            if (grown.blockOffset(index, layout) == 0) {
                refcounts.installBlock(layout.firstHostOffsetOfRefblock(index), blockOffset);
                blockOffset += layout.clusterSize();
            }
        }
        for (long host = start; host < end; host += layout.clusterSize()) {
            refcounts.set(host, 1);
        }
        allocator.advanceHostEnd(end);
        refcounts.writeDirtyBlocks();
        file.sync();
        grown.writeAll(file, layout);
        file.sync();
        header.writeRefcountTableLocation(start, (int) tableClusters);
        for (int i = 0; i < old.clusters(); i++) {
            allocator.decrement(old.tableOffset() + layout.clusterOffset(i));
        }
    }

    private long countMissingBlocks(RefcountTable old, long start, long end) throws CorruptionException {
        long missing = 0;
        for (long index = layout.reftableIndex(start); index <= layout.reftableIndex(end - 1); index++) {
            if (old.blockOffset(index, layout) == 0) {
                missing++;
            }
        }
        return missing;
    }
}
