/**
 * Disks: where a disk's stack (drawn in {@link org.fleeced.block}) is assembled, and the object
 * that owns it. {@link org.fleeced.disk.DiskOpener} is the one factory (QEMU's blockdev-add for a
 * whole disk): format node, a qcow2 image's persistent bitmaps or a raw image's bitmap sidecar,
 * checkpoints and their store, the named policy filters ({@link org.fleeced.disk.StackFilter}); {@link org.fleeced.disk.ActiveDisk}
 * owns all of it, rebuilds the filters when a job's filter goes in or out, and closes it.
 * {@code Qcow2CheckpointStore} adapts the persistent bitmaps to the checkpoints, so neither
 * {@link org.fleeced.checkpoint} nor {@link org.fleeced.qcow2.bitmap} knows the other.
 */
package org.fleeced.disk;
