package org.fleeced.checkpoint;

import org.fleeced.bitmaps.FrozenBitmap;

/**
 * What {@link CheckpointSet#begin} gave one fleecing job; handed back to {@link CheckpointSet#end}.
 *
 * @param created        the checkpoint the job created, or null when it created none
 * @param kind           what the job covers after any fallback: FULL; INCREMENTAL, the changes since
 *                       the newest checkpoint before this start; DIFFERENTIAL, since an older one
 * @param baseCheckpoint the checkpoint the changes are counted from; null for FULL
 * @param changes        for an incremental or differential job, the changes since the base up to the
 *                       snapshot point, frozen (the exported {@code qemu:dirty-bitmap}); null for full
 * @param fallback       why the requested base was refused when the job fell back to full; otherwise null
 */
public record CheckpointStart(String created, BackupBase.Kind kind, String baseCheckpoint, FrozenBitmap changes,
        BaseRefusal fallback) {

    /** A full job; {@code fallback} says why the requested base was refused, when it was. */
    public static CheckpointStart full(String created, BaseRefusal fallback) {
        return new CheckpointStart(created, BackupBase.Kind.FULL, null, null, fallback);
    }

    /**
     * A job covering the changes since {@code base}, named by where the base sits however it was
     * asked for: since the newest checkpoint it is incremental, since an older one differential.
     */
    public static CheckpointStart changesSince(String created, String base, boolean baseIsNewest, FrozenBitmap changes) {
        return new CheckpointStart(created, baseIsNewest ? BackupBase.Kind.INCREMENTAL : BackupBase.Kind.DIFFERENTIAL,
                base, changes, null);
    }

    public boolean isFull() {
        return changes == null;
    }
}
