/**
 * Instant restore: a disk usable at once while its data streams in from a backup (QEMU's
 * copy-on-read filter plus a stream job, for a whole disk). Its place in a disk's stack is drawn
 * in {@link org.fleeced.block}; {@link org.fleeced.disk.DiskOpener} puts it there.
 * <pre>
 *   guest ──▶ ... policy filters ──▶ CopyOnReadFilter ──▶ new qcow2 image
 *                                        │  unrestored clusters: fetched once, written into the
 *                                        │  image, marked in RestoredClusters (IMAGE.fleeced-restore)
 *                                        ▼
 *                               source (RestoreSource: backup chain, NBD export), read-only
 *                                        ▲
 *   RestoreStream (background) ──────────┘  copies what is still unrestored, then the disk
 *                                           takes the filter out and the image stands alone
 * </pre>
 * {@link org.fleeced.restore.CopyOnRead} holds the state per cluster and the fill;
 * {@link org.fleeced.restore.CopyOnReadFilter} is the node; {@link org.fleeced.restore.InstantRestore}
 * ties source, state, filter and stream together for one disk.
 */
package org.fleeced.restore;
