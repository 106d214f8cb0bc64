/**
 * Checkpoints: the rotation of dirty bitmaps that incremental and differential backups read
 * ({@link org.fleeced.checkpoint.CheckpointSet}). Not a node: the dirty-tracking filter of a
 * disk's stack (drawn in {@link org.fleeced.block}) records into the newest checkpoint's bitmap,
 * and a fleecing job begins and ends a checkpoint while the disk is drained. Where the bitmaps
 * live is a {@link org.fleeced.checkpoint.CheckpointStore}: in memory, or a qcow2 image's
 * persistent bitmaps (the adapter is in {@link org.fleeced.disk}). This package knows no format.
 */
package org.fleeced.checkpoint;
