package org.fleeced.qcow2;

import java.nio.ByteBuffer;

/**
 * One L2 table: a cluster of raw 64-bit L2 entries (qcow2 spec "Cluster mapping"), decoded with
 * {@link L2Entry#decode}.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
final class L2Table extends CachedTable {
    private final long[] entries;

    private L2Table(long hostOffset, long[] entries) {
        super(hostOffset);
        this.entries = entries;
    }

    /** A new, empty table that is not yet on disk (dirty). */
    static L2Table empty(long hostOffset, Qcow2Layout layout) {
        L2Table t = new L2Table(hostOffset, new long[layout.l2Entries()]);
        t.markDirty();
        return t;
    }

    static L2Table decode(long hostOffset, ByteBuffer cluster) {
        long[] entries = new long[cluster.remaining() / Qcow2Layout.TABLE_ENTRY_BYTES];
        cluster.asLongBuffer().get(entries);
        return new L2Table(hostOffset, entries);
    }

    long get(int index) {
        return entries[index];
    }

    void set(int index, long raw) {
        if (entries[index] != raw) {
            entries[index] = raw;
            markDirty();
        }
    }

    int size() {
        return entries.length;
    }

    @Override
    ByteBuffer encode() {
        ByteBuffer b = ByteBuffer.allocate(entries.length * Qcow2Layout.TABLE_ENTRY_BYTES);
        b.asLongBuffer().put(entries);
        return b;
    }
}
