/**
 * Checkpoints: the rotation of dirty bitmaps that incremental and differential backups read,
 * and what keeps them across crashes (DESIGN.md section 6). Not a node: the dirty-tracking filter
 * of a disk's stack (drawn in {@link org.fleeced.block}) records into the newest checkpoint's
 * bitmap, and a fleecing job begins and ends a checkpoint while the disk is drained. This package
 * knows no image format: the qcow2 adapter of {@link org.fleeced.checkpoint.CheckpointStore} is in
 * {@link org.fleeced.disk}; the one file format here is its own bitmap sidecar for raw images.
 * <pre>
 *   CheckpointSet ── API: begin/end (jobs), create/remove/clear/merge/enable/disable
 *     ├─ CheckpointChain ── the ordered checkpoints and their transitions (also used by replay)
 *     ├─ CheckpointJournal ── IMAGE.fleeced-journal: one durable record per transition
 *     │    └─ JournalReader, JournalReplay ── recovery after kill -9 or a power loss
 *     └─ CheckpointStore ── where the bitmaps persist, written in the background:
 *          ├─ disk.Qcow2CheckpointStore ── a qcow2 image's persistent bitmaps
 *          ├─ SidecarBitmaps ── a raw image's: IMAGE.fleeced-bitmaps (SidecarBitmapFile), same
 *          │    intent log, journal and recovery; also the raw disk's change recorder
 *          └─ InMemoryCheckpointStore ── read-only raw disks and tests
 * </pre>
 */
package org.fleeced.checkpoint;
