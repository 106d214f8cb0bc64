/**
 * Checkpoints: the rotation of dirty bitmaps that incremental backup needs, and what keeps them
 * across crashes (DESIGN.md section 6). Above the block stack's dirty tracking, below the jobs.
 * <pre>
 *   CheckpointSet ── API: begin/end (jobs), create/remove/clear/merge/enable/disable
 *     ├─ CheckpointChain ── the ordered checkpoints and their transitions (also used by replay)
 *     ├─ CheckpointJournal ── IMAGE.fleeced-journal: one durable record per transition
 *     │    └─ JournalReader, JournalReplay ── recovery after kill -9 or a power loss
 *     └─ CheckpointStore ── where the bitmaps persist, written in the background:
 *          ├─ Qcow2CheckpointStore (qcow2.bitmap) ── the image's bitmaps
 *          ├─ SidecarBitmaps ── IMAGE.fleeced-bitmaps beside a raw image
 *          └─ InMemoryCheckpointStore ── tests
 * </pre>
 */
package org.fleeced.checkpoint;
