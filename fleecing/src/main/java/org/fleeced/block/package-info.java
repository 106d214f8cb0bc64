/**
 * The block layer's contract and its generic pieces: {@link org.fleeced.block.BlockNode} (what
 * every node guarantees and expects), {@link org.fleeced.block.FilterNode} (the forwarding base
 * whose write-like operations stay abstract), {@link org.fleeced.block.Capabilities},
 * {@link org.fleeced.block.Extent}, the one error type {@link org.fleeced.block.BlockIOException}
 * with its {@link org.fleeced.block.Errno}, the contract checker every test wraps nodes in, and
 * two graph primitives: {@link org.fleeced.block.SwappableNode} (the gate whose stack a job
 * replaces) and {@link org.fleeced.block.InFlightRanges}.
 *
 * <h2>A disk's stack</h2>
 * The one drawing of it; the other packages refer here. {@link org.fleeced.disk.DiskOpener}
 * builds it, in one place, and {@link org.fleeced.disk.ActiveDisk} owns everything below the
 * gate (and closes it: bitmaps stored first, then the stack down to the file).
 * <pre>
 *   writable export (daemon nbd.server)                  fleece export, read-only (one per job)
 *        │                                                     │
 *        ▼                                                     ▼
 *   SwappableNode ............ block: the gate          SnapshotAccessNode ..... cbw
 *        │  a job drains it to change what is below        │ frozen reads: temp image where
 *        ▼                                                  │ copied, else the image
 *   policy filters, named .... disk.StackFilter             │
 *     DirtyTrackingFilter .... tracking ──▶ ChangeRecorder  │
 *        │     qcow2: PersistentBitmaps (qcow2.bitmap): IntentLog mark (tracking), then bitmaps
 *        │     raw:   SidecarBitmaps (checkpoint): IntentLog mark, then bitmaps
 *        │     raw read-only: CheckpointSet.track (checkpoints in memory)
 *        ▼                                                  │
 *   [CopyOnReadFilter] ....... restore, only while the disk's data streams in from a backup
 *        │     (restore.InstantRestore: source, IMAGE.fleeced-restore, background stream)
 *        ▼                                                  │
 *   [CopyBeforeWriteFilter] .. cbw, only while a job runs ──┼──▶ temp image (job.TempImage)
 *        │                     (org.fleeced.job puts it in and takes it out)
 *        ▼                                                  │
 *   format node .............. qcow2.Qcow2Node  |  block.file.RawFileNode (raw: file = format)
 *        │                                                  ▲
 *        ▼                                                  │
 *   image file (+ read-only backing chain)  ◀───────────────┘
 *   beside it: IMAGE.fleeced-intent (intent log), IMAGE.fleeced-journal (checkpoint journal),
 *              raw only: IMAGE.fleeced-bitmaps (the checkpoints' bitmaps)
 *              restoring only: IMAGE.fleeced-restore (which clusters hold their data)
 * </pre>
 * The checkpoints ({@link org.fleeced.checkpoint.CheckpointSet}) hold the bitmaps the tracking
 * filter records into; on qcow2 they are the image's persistent bitmaps, through
 * {@code disk.Qcow2CheckpointStore}; on raw, {@code checkpoint.SidecarBitmaps}. The daemon's {@code host.DiskTable} and
 * {@code fleeced serve} get their disks from the factory, and so do the tests.
 */
package org.fleeced.block;
