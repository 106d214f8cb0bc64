/**
 * Persistent dirty bitmaps of qcow2 images (qcow2 spec "Bitmaps extension" and "Bitmaps"), kept
 * usable across crashes by a write-intent log sidecar ({@link org.fleeced.tracking.IntentLog}).
 * In a disk's stack (drawn in {@link org.fleeced.block}) {@code PersistentBitmaps} is the change
 * recorder of the dirty-tracking filter over the qcow2 format node; this package builds no filter
 * and knows nothing of checkpoints ({@code disk.Qcow2CheckpointStore} adapts).
 * <pre>
 *   PersistentBitmaps ── load, list/add/remove/get, recordChange, checkpointToImage, close
 *     ├─ BitmapLoader ── at open: directory + tables checked, IN_USE bitmaps recovered or not
 *     ├─ BitmapStore ─── whole-directory stores: new clusters, flush, one header write, free old
 *     │    └─ BitmapTable ── one bitmap's table and data clusters (bits: bitmaps.Qcow2BitmapLayout)
 *     ├─ BitmapDirectory / BitmapDirectoryEntry / BitmapsExtension / BitmapTableEntry ── format
 *     ├─ IntentLogLink ── identity + autoclear bit 63 tying the image to its sidecar
 *     └─ qcow2.Qcow2ExtensionStorage ── allocator, refcounts, header of the open image
 * </pre>
 */
package org.fleeced.qcow2.bitmap;
