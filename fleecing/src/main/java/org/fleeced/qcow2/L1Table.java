package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.nio.ByteBuffer;
import java.util.BitSet;
import org.fleeced.block.BlockIOException;

/**
 * The active L1 table (qcow2 spec "Cluster mapping"): one 64-bit entry per L2 table, bits 9-55
 * the L2 table's host offset, bit 63 COPIED. Held in memory whole (at most 32 MiB, checked by
 * {@link Qcow2Header#parse}); changed entries are written back by {@link #writeDirty}.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
final class L1Table {
    /** Bits that must be zero in an L1 entry: 0-8 and 56-62. */
    private static final long RESERVED = 0x7f00_0000_0000_01ffL;

    private final long tableOffset;
    private final long[] entries;
    /** Entries changed in memory and not yet written. */
    private final BitSet dirty = new BitSet();

    private L1Table(long tableOffset, long[] entries) {
        this.tableOffset = tableOffset;
        this.entries = entries;
    }

    static L1Table load(PositionalFile file, long tableOffset, int size) throws BlockIOException {
        ByteBuffer b = ByteBuffer.allocate(size * Qcow2Layout.TABLE_ENTRY_BYTES);
        if (size > 0) {
            file.readFully(tableOffset, b);
        }
        long[] entries = new long[size];
        b.flip().asLongBuffer().get(entries);
        return new L1Table(tableOffset, entries);
    }

    int size() {
        return entries.length;
    }

    long tableOffset() {
        return tableOffset;
    }

    /** Host offset of the L2 table for an L1 slot, or 0 when unallocated. */
    long l2Offset(int index, Qcow2Layout layout) throws CorruptionException {
        long raw = entries[index];
        if ((raw & RESERVED) != 0) {
            throw new CorruptionException(String.format("L1 entry %d (0x%016x) has reserved bits set", index, raw));
        }
        long offset = raw & L2Entry.OFFSET_MASK;
        if (!layout.isClusterAligned(offset)) {
            throw new CorruptionException(String.format("L1 entry %d (0x%016x) not cluster aligned", index, raw));
        }
        return offset;
    }

    /** True when the L2 table of the slot has refcount 1 and may be changed in place. */
    boolean copied(int index) {
        return (entries[index] & L2Entry.COPIED) != 0;
    }

    void setL2Offset(int index, long l2Offset) {
        entries[index] = l2Offset | L2Entry.COPIED;
        dirty.set(index);
    }

    long rawEntry(int index) {
        return entries[index];
    }

    boolean isDirty() {
        return !dirty.isEmpty();
    }

    /** Writes every changed entry in place (8-byte writes, each atomic on any real disk). */
    void writeDirty(PositionalFile file) throws BlockIOException {
        for (int i = dirty.nextSetBit(0); i >= 0; i = dirty.nextSetBit(i + 1)) {
            file.writeFully(tableOffset + (long) i * Qcow2Layout.TABLE_ENTRY_BYTES,
                    ByteBuffer.allocate(Qcow2Layout.TABLE_ENTRY_BYTES).putLong(0, entries[i]));
        }
        dirty.clear();
    }
}
