package org.fleeced.checkpoint;

import org.fleeced.bitmaps.DirtyBitmap;

/** One checkpoint of a {@link CheckpointChain}; its fields change only under the set's lock. */
final class Checkpoint {
    final String name;
    final DirtyBitmap bitmap;
    /** Guarded by the set's lock. */
    CheckpointState state;

    Checkpoint(String name, DirtyBitmap bitmap, CheckpointState state) {
        this.name = name;
        this.bitmap = bitmap;
        this.state = state;
    }

    boolean consistent() {
        return state != CheckpointState.INCONSISTENT;
    }

    CheckpointInfo info() {
        return new CheckpointInfo(name, state, bitmap.isEnabled(), bitmap.dirtyBytes());
    }

    CheckpointStore.Stored stored() {
        return new CheckpointStore.Stored(name, bitmap, state);
    }
}
