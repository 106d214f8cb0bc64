package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.nio.ByteBuffer;
import java.util.BitSet;
import org.fleeced.block.BlockIOException;

/**
 * The refcount table (qcow2 spec "Host cluster management"): one 64-bit entry per refcount
 * block, bits 9-63 its host offset, 0 when the block is not allocated. Held in memory whole (at
 * most 8 MiB, checked by {@link Qcow2Header#parse}).
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
final class RefcountTable {
    private static final long RESERVED = 0x1ffL;

    private final long tableOffset;
    private final int clusters;
    private final long[] entries;
    /** Entries changed in memory and not yet written. */
    private final BitSet dirty = new BitSet();

    RefcountTable(long tableOffset, int clusters, long[] entries) {
        this.tableOffset = tableOffset;
        this.clusters = clusters;
        this.entries = entries;
    }

    static RefcountTable load(PositionalFile file, long tableOffset, int clusters, Qcow2Layout layout)
            throws BlockIOException {
        ByteBuffer b = ByteBuffer.allocate(clusters * layout.clusterSize());
        file.readFully(tableOffset, b);
        long[] entries = new long[b.capacity() / Qcow2Layout.TABLE_ENTRY_BYTES];
        b.flip().asLongBuffer().get(entries);
        return new RefcountTable(tableOffset, clusters, entries);
    }

    long tableOffset() {
        return tableOffset;
    }

    int clusters() {
        return clusters;
    }

    int size() {
        return entries.length;
    }

    /** Host offset of the refcount block for a table slot, or 0. Slots past the table are 0. */
    long blockOffset(long index, Qcow2Layout layout) throws CorruptionException {
        if (index >= entries.length) {
            return 0;
        }
        long raw = entries[(int) index];
        if ((raw & RESERVED) != 0 || !layout.isClusterAligned(raw) || raw < 0) {
            throw new CorruptionException(String.format("refcount table entry %d (0x%016x) invalid", index, raw));
        }
        return raw;
    }

    void setBlockOffset(int index, long blockOffset) {
        entries[index] = blockOffset;
        dirty.set(index);
    }

    boolean isDirty() {
        return !dirty.isEmpty();
    }

    /** A copy with room for {@code newClusters} clusters of entries, placed at {@code newOffset}. */
    RefcountTable grownCopy(long newOffset, int newClusters, Qcow2Layout layout) {
        long[] grown = new long[newClusters * layout.reftableEntriesPerCluster()];
        System.arraycopy(entries, 0, grown, 0, entries.length);
        return new RefcountTable(newOffset, newClusters, grown);
    }

    void writeDirty(PositionalFile file) throws BlockIOException {
        for (int i = dirty.nextSetBit(0); i >= 0; i = dirty.nextSetBit(i + 1)) {
            file.writeFully(tableOffset + (long) i * Qcow2Layout.TABLE_ENTRY_BYTES,
                    ByteBuffer.allocate(Qcow2Layout.TABLE_ENTRY_BYTES).putLong(0, entries[i]));
        }
        dirty.clear();
    }

    /** Writes the whole table, for a table that is not yet referenced by the header. */
    void writeAll(PositionalFile file, Qcow2Layout layout) throws BlockIOException {
        ByteBuffer b = ByteBuffer.allocate(clusters * layout.clusterSize());
        b.asLongBuffer().put(entries);
        file.writeFully(tableOffset, b);
        dirty.clear();
    }
}
