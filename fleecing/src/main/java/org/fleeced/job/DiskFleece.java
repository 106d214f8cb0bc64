package org.fleeced.job;

import org.fleeced.cbw.FleeceStats;
import org.fleeced.cbw.CbwState;
import org.fleeced.cbw.CopyBeforeWriteFilter;
import org.fleeced.cbw.FleeceSnapshot;
import org.fleeced.cbw.SnapshotAccess;
import org.fleeced.cbw.SnapshotAccessNode;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.bitmaps.FrozenBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.checkpoint.CheckpointStart;

/**
 * One disk of a running {@link FleecingJob}: what the NBD layer exports for it, and the pieces
 * the job tears down at the end.
 */
public final class DiskFleece {
    private final ActiveDisk disk;
    private final TempImage temp;
    private final CbwState state;
    private final CopyBeforeWriteFilter filter;
    private final FleeceSnapshot snapshot;
    private final SnapshotAccessNode exportNode;
    private final CheckpointStart checkpoint;

    DiskFleece(ActiveDisk disk, TempImage temp, CbwState state, CopyBeforeWriteFilter filter,
            CheckpointStart checkpoint, boolean allowDiscard) {
        this.disk = disk;
        this.temp = temp;
        this.state = state;
        this.filter = filter;
        this.checkpoint = checkpoint;
        this.snapshot = new FleeceSnapshot(state);
        this.exportNode = new SnapshotAccessNode(snapshot, disk.image().capabilities(), allowDiscard, disk.name());
    }

    public String diskName() {
        return disk.name();
    }

    /** The read-only (discard-only with allowDiscard) node of the fleece export. */
    public SnapshotAccessNode exportNode() {
        return exportNode;
    }

    public SnapshotAccess snapshot() {
        return snapshot;
    }

    /**
     * The whole snapshot as a read-only node, for the daemon's own reads (a checksum): EACCES
     * where the job did not keep it (outside the changes of an incremental job that does not
     * keep its whole snapshot, or discarded by the reader).
     */
    public SnapshotAccessNode wholeSnapshotNode() {
        return new SnapshotAccessNode(snapshot.wholeView(), disk.image().capabilities(), false,
                disk.name() + "-whole");
    }

    /** The first byte the {@link #wholeSnapshotNode()} cannot read (EACCES), or -1 when it reads all. */
    public long firstUnkeptByte() {
        return snapshot.firstUnkeptByte();
    }

    /**
     * For an incremental or differential job, the changes since the base up to the snapshot point
     * at the checkpoint's granularity, frozen: the {@code qemu:dirty-bitmap} context to export.
     * Null for a full job.
     */
    public FrozenBitmap changes() {
        return checkpoint.changes();
    }

    /** The checkpoint step of the start: what was created, the base used, any fallback to full. */
    public CheckpointStart checkpoint() {
        return checkpoint;
    }

    public FleeceStats stats() {
        return state.stats();
    }

    /** The temp image file; it exists from the start until the job ends. */
    public java.nio.file.Path tempImagePath() {
        return temp.path();
    }

    /** The disk this part of the job snapshots. */
    public ActiveDisk disk() {
        return disk;
    }

    CopyBeforeWriteFilter filter() {
        return filter;
    }

    /** The failure that broke this disk's snapshot, or null. */
    BlockIOException breakCause() {
        return state.breakCause();
    }

    /** Ends the reader's view and deletes the temp image; the filter must be out of the stack. */
    void close() throws BlockIOException {
        try {
            snapshot.shutDown();
        } finally {
            temp.close();
        }
    }
}
