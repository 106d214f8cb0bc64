package org.fleeced.checkpoint;

/**
 * What a caller may know about one checkpoint.
 *
 * @param name       unique on its disk
 * @param state      how far its bitmap can be trusted
 * @param recording  true for the newest checkpoint, which records every guest change
 * @param dirtyBytes bytes of the disk its bitmap marks changed
 */
public record CheckpointInfo(String name, CheckpointState state, boolean recording, long dirtyBytes) {
}
