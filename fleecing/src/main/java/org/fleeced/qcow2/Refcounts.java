package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.Map;
import org.fleeced.block.BlockIOException;

/**
 * Reference counts of host clusters: the {@link RefcountTable} and a write-back cache of
 * {@link RefcountBlock}s. Answers "how many references does this host cluster have" and changes
 * it in memory; {@link #writeDirtyBlocks} and {@link #writeDirtyTable} put changes on disk in
 * the order {@link Qcow2Metadata#flushLocked} chooses.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
final class Refcounts {
    private final Qcow2Layout layout;
    private final PositionalFile file;
    private final MetadataRegions regions;
    private final TableCache<RefcountBlock> cache;
    /** The table the header points at (replaced when the table grows). */
    private RefcountTable table;

    Refcounts(Qcow2Layout layout, PositionalFile file, MetadataRegions regions, RefcountTable table, int cacheBlocks)
            throws CorruptionException {
        this.layout = layout;
        this.file = file;
        this.regions = regions;
        this.cache = new TableCache<>(cacheBlocks);
        useTable(table);
    }

    RefcountTable table() {
        return table;
    }

    /** Switches to a (grown) table and registers its blocks as metadata. */
    void useTable(RefcountTable newTable) throws CorruptionException {
        this.table = newTable;
        regions.setReftable(newTable.tableOffset(), (long) newTable.clusters() * layout.clusterSize());
        for (int i = 0; i < newTable.size(); i++) {
            long block = newTable.blockOffset(i, layout);
            if (block != 0) {
                regions.addCluster(block);
            }
        }
    }

    /**
     * Host offset past the last cluster counted as in use, at least {@code fileEnd}. A truncated
     * or damaged image may count clusters the file no longer holds (data an L2 table still maps,
     * a table past the end): handing those out again would give one cluster two owners. Only the
     * blocks that describe clusters at or past {@code fileEnd} are read, each distinct one once, so
     * a hostile table whose slots all name one block costs one read. A slot that is itself
     * damaged is skipped here; its use fails later with the damage named.
     */
    long inUseEnd(long fileEnd) throws BlockIOException {
        long firstIndex = layout.reftableIndex(fileEnd);
        Map<Long, Integer> lastInUseOfBlock = new HashMap<>();
        for (long index = table.size() - 1; index >= firstIndex; index--) {
            long blockOffset;
            try {
                blockOffset = table.blockOffset(index, layout);
            } catch (CorruptionException damaged) {
                continue;
            }
            if (blockOffset == 0) {
                continue;
            }
            Integer last = lastInUseOfBlock.get(blockOffset);
            if (last == null) {
                try {
                    last = blockFor(layout.firstHostOffsetOfRefblock(index)).lastInUse();
                } catch (CorruptionException damaged) {
                    last = -1;
                }
                lastInUseOfBlock.put(blockOffset, last);
            }
            if (last >= 0) {
                return Math.max(fileEnd, layout.firstHostOffsetOfRefblock(index) + layout.clusterOffset(last + 1));
            }
        }
        return fileEnd;
    }

    /** The refcount of the host cluster containing {@code hostOffset}; 0 where no block exists. */
    long get(long hostOffset) throws BlockIOException {
        RefcountBlock block = blockFor(hostOffset);
        return block == null ? 0 : block.get(layout.refblockIndex(hostOffset));
    }

    boolean hasBlockFor(long hostOffset) throws BlockIOException {
        return table.blockOffset(layout.reftableIndex(hostOffset), layout) != 0;
    }

    /** True when the table has a slot for the host offset (else it must grow first). */
    boolean tableCovers(long hostOffset) {
        return layout.reftableIndex(hostOffset) < table.size();
    }

    /** Sets a refcount; the block must exist ({@link #hasBlockFor}). */
    void set(long hostOffset, long value) throws BlockIOException {
        if (value < 0 || value > layout.maxRefcount()) {
            throw new CorruptionException("refcount of host cluster " + hostOffset + " would become " + value);
        }
        RefcountBlock block = blockFor(hostOffset);
        if (block == null) {
            throw new IllegalStateException("no refcount block for host offset " + hostOffset);
        }
        block.set(layout.refblockIndex(hostOffset), value);
    }

    /** Adds a new, empty refcount block at {@code blockOffset} for the table slot covering {@code hostOffset}. */
    void installBlock(long hostOffset, long blockOffset) {
        long index = layout.reftableIndex(hostOffset);
        cache.put(RefcountBlock.empty(blockOffset, layout));
        table.setBlockOffset((int) index, blockOffset);
        regions.addCluster(blockOffset);
    }

    private RefcountBlock blockFor(long hostOffset) throws BlockIOException {
        long blockOffset = table.blockOffset(layout.reftableIndex(hostOffset), layout);
        if (blockOffset == 0) {
            return null;
        }
        RefcountBlock block = cache.get(blockOffset);
        if (block == null) {
            block = load(blockOffset);
            cache.put(block);
        }
        return block;
    }

    private RefcountBlock load(long blockOffset) throws BlockIOException {
        long fileSize = file.size();
        if (blockOffset > fileSize - layout.clusterSize()) {
            throw new CorruptionException("refcount block at " + blockOffset + " lies past the end of the file (" + fileSize + ")");
        }
        if (regions.overlapsFixedTables(blockOffset)) {
            throw new CorruptionException("refcount block at " + blockOffset + " overlaps the header, L1 or refcount table");
        }
        ByteBuffer b = ByteBuffer.allocate(layout.clusterSize());
        file.readFully(blockOffset, b);
        return RefcountBlock.decode(blockOffset, b.flip(), layout);
    }

    boolean hasDirtyBlocks() {
        return cache.hasDirty();
    }

    boolean hasDirtyTable() {
        return table.isDirty();
    }

    boolean overCapacity() {
        return cache.overCapacity();
    }

    void writeDirtyBlocks() throws BlockIOException {
        for (RefcountBlock block : cache.dirtyTables()) {
            file.writeFully(block.hostOffset(), block.encode());
            block.markClean();
        }
    }

    void writeDirtyTable() throws BlockIOException {
        table.writeDirty(file);
    }

    void evictClean() {
        cache.evictClean();
    }
}
