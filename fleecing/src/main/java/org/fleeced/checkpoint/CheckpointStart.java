package org.fleeced.checkpoint;

import org.fleeced.bitmaps.FrozenBitmap;

/**
 * What {@link CheckpointSet#begin} gave one fleecing job; handed back to {@link CheckpointSet#end}.
 *
 * @param created    the checkpoint the job created, or null when it created none
 * @param base       what the job covers after any fallback: FULL, or the base it reads changes from
 * @param changes    for an incremental or differential job, the changes since the base up to the
 *                   snapshot point, frozen (the exported {@code qemu:dirty-bitmap}); null for full
 * @param fallback   why the requested base was refused when the job fell back to full; otherwise null
 */
public record CheckpointStart(String created, BackupBase base, FrozenBitmap changes, BaseRefusal fallback) {

    public boolean isFull() {
        return changes == null;
    }
}
