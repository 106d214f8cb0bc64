package org.fleeced.qcow2;

import java.nio.ByteBuffer;

/**
 * One cluster of metadata held in a {@link TableCache}: an L2 table or a refcount block. It is
 * dirty from the first change until it has been written back.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
abstract class CachedTable {
    private final long hostOffset;
    private boolean dirty;

    CachedTable(long hostOffset) {
        this.hostOffset = hostOffset;
    }

    final long hostOffset() {
        return hostOffset;
    }

    final boolean isDirty() {
        return dirty;
    }

    final void markDirty() {
        dirty = true;
    }

    final void markClean() {
        dirty = false;
    }

    /** The table's on-disk bytes, one cluster. */
    abstract ByteBuffer encode();
}
