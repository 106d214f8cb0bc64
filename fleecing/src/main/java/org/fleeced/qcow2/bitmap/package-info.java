/**
 * Persistent dirty bitmaps of qcow2 images (qcow2 spec "Bitmaps extension" and "Bitmaps"), kept
 * usable across crashes by a write-intent log sidecar ({@link org.fleeced.tracking.IntentLog}).
 * In a disk's stack (drawn in {@link org.fleeced.block}) {@code PersistentBitmaps} is the change
 * recorder of the dirty-tracking filter over the qcow2 format node; this package builds no filter
 * and knows nothing of checkpoints ({@code disk.Qcow2CheckpointStore} adapts).
 * <pre>
 *   PersistentBitmaps ── load, list/add/remove/get, recordChange, storeInBackground, checkpointToImage, close
 *     ├─ BitmapLoader ── at open: directory + tables checked, IN_USE bitmaps recovered or not
 *     ├─ BitmapStore ─── whole-directory stores: new clusters, (sync), one header write, (sync), free old
 *     ├─ tracking.StoreAfterFlush ── the store a guest flush starts in the background
 *     │    └─ BitmapTable ── one bitmap's table and data clusters (bits: bitmaps.Qcow2BitmapLayout)
 *     ├─ BitmapDirectory / BitmapDirectoryEntry / BitmapsExtension / BitmapTableEntry ── format
 *     ├─ IntentLogLink ── identity + autoclear bit 63 tying the image to its sidecar
 *     └─ qcow2.Qcow2ExtensionStorage ── allocator, refcounts, header of the open image
 * </pre>
 *
 * <h2>Lifecycle on disk</h2>
 * <ul>
 *   <li><b>open read-write</b>: every bitmap is loaded (see {@link BitmapLoader} for what an
 *       IN_USE bitmap becomes), then the whole directory is stored with IN_USE set on every
 *       bitmap, before the disk is handed out, so no guest write can land before QEMU would
 *       see the bitmaps as in use. The store also writes the {@link IntentLogLink}, and a fresh
 *       sidecar is created (before the store when the identity is new, after it keeping the
 *       recovered marks when the old sidecar vouched for the bitmaps).</li>
 *   <li><b>guest change</b>: the region is marked durably in the sidecar (first write into a
 *       region of the current epoch only), then set in every enabled bitmap.</li>
 *   <li><b>{@code storeInBackground()}</b> (daemon timer; also a flush once enough regions are
 *       marked): switch the intent log's epoch, write every bitmap's new clusters (IN_USE kept)
 *       with no sync of the image; after the guest's next sync of the image the header names
 *       them, after the one after that the old clusters are freed, the store observer told (the
 *       checkpoint journal compacts) and the ended epoch retired. {@code checkpointToImage()}
 *       does the same with syncs of its own. Recovery after a crash = stored bits ∪ marked
 *       regions, a superset.</li>
 *   <li><b>add / remove / setEnabled</b> of a persistent bitmap store the directory at once,
 *       unless the caller journals the change itself (the checkpoint store: its journal makes
 *       the change durable, the next store brings it into the image).</li>
 *   <li><b>clean close</b>: store every bitmap with IN_USE clear, drop the link, delete the
 *       sidecar, close the image.</li>
 * </ul>
 */
package org.fleeced.qcow2.bitmap;
