package org.fleeced.cbw;

/**
 * What a failed copy-before-write (temp I/O error, full temp quota, cbw-timeout elapsed) breaks
 * (QEMU's {@code on-cbw-error}).
 */
public enum OnCbwError {
    /**
     * The default: the snapshot breaks, the guest write proceeds. Every later snapshot read fails
     * with EIO naming the root cause, and no more clusters are copied. The guest never sees the
     * backup's trouble (PVE runs fleecing this way, with a 45 s timeout, below virtio-win's 60 s).
     */
    BREAK_SNAPSHOT,
    /**
     * The guest write fails (EIO, or ENOSPC for a full quota or temp file system) and changes
     * nothing; the snapshot stays intact and a later write to the cluster tries the copy again.
     */
    BREAK_GUEST_WRITE
}
