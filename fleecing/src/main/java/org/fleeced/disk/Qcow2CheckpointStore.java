package org.fleeced.disk;

import java.util.ArrayList;
import java.util.List;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.checkpoint.CheckpointState;
import org.fleeced.checkpoint.CheckpointStore;
import org.fleeced.qcow2.bitmap.BitmapInfo;
import org.fleeced.qcow2.bitmap.BitmapState;
import org.fleeced.qcow2.bitmap.PersistentBitmaps;

/**
 * Checkpoints kept as the persistent bitmaps of a qcow2 image: each checkpoint is the bitmap of
 * the same name, in directory order. An adapter between {@link org.fleeced.checkpoint} and
 * {@link org.fleeced.qcow2.bitmap}, which know nothing of each other; {@link DiskOpener} plugs it
 * in for a qcow2 disk. Guest changes reach the bitmaps through
 * {@link PersistentBitmaps#recordChange} (intent log first); what {@link #put} reports (a new
 * checkpoint, a stop of recording, bits merged back after a failed job) is stored in the image at
 * once, so that a crash cannot lose it either.
 */
final class Qcow2CheckpointStore implements CheckpointStore {
    private final PersistentBitmaps bitmaps;
    private final long sizeBytes;
    /** Inside a deferral window (see CheckpointStore#beginDeferral). Guarded by the caller's lock. */
    private boolean deferring;
    /**
     * The window opened while no bitmap recorded: what it creates is the disk's first checkpoint,
     * which no stored bitmap covers, so it is stored when the window ends. Guarded by the caller's lock.
     */
    private boolean storeAtEnd;

    Qcow2CheckpointStore(PersistentBitmaps bitmaps, long sizeBytes) {
        this.bitmaps = bitmaps;
        this.sizeBytes = sizeBytes;
    }

    @Override
    public DirtyBitmap create(String name, long size, long granularity) throws BlockIOException {
        bitmaps.add(name, granularity, true, true, !deferring);
        return bitmaps.get(name);
    }

    @Override
    public List<Stored> loadAll() throws BlockIOException {
        List<Stored> all = new ArrayList<>();
        for (BitmapInfo info : bitmaps.list()) {
            CheckpointState state = switch (info.state()) {
                case RECORDING -> CheckpointState.RECORDING;
                case FROZEN -> CheckpointState.FROZEN;
                case RECOVERED -> CheckpointState.RECOVERED;
                case INCONSISTENT -> CheckpointState.INCONSISTENT;
            };
            // an inconsistent bitmap's bits cannot be read; it only ever refuses to be a base
            DirtyBitmap bitmap = state == CheckpointState.INCONSISTENT
                    ? new DirtyBitmap(sizeBytes, info.granularity()) : bitmaps.get(info.name());
            all.add(new Stored(info.name(), bitmap, state));
        }
        return all;
    }

    @Override
    public void put(Stored checkpoint) throws BlockIOException {
        if (checkpoint.state() == CheckpointState.INCONSISTENT) {
            return;
        }
        // the bitmap object is the one the image stores, enabled flag (AUTO) included
        if (!deferring) {
            bitmaps.checkpointToImage();
        }
    }

    /**
     * Leaves the new checkpoint and the freeze of its predecessor to the next store (the
     * daemon's timer, a flush after enough changes, any other checkpoint change, the clean
     * close) while a checkpoint records: the image then holds an enabled bitmap (every change
     * that disables one is stored at once), and the intent log covers every change since its
     * bits were stored, so a crash recovers it as a superset of all that changed, the new
     * checkpoint's changes included; only the new name would be lost. Storing at a job's start
     * instead would fsync the image just as the guest resumes. When no bitmap records (a disk's
     * first checkpoint), {@link #endDeferral()} stores, after the guest resumed: the store takes
     * the image's metadata lock only briefly ({@link org.fleeced.qcow2.bitmap.PersistentBitmaps}), so guest writes go on.
     */
    @Override
    public void beginDeferral() {
        deferring = true;
        storeAtEnd = bitmaps.list().stream().noneMatch(b -> b.persistent() && b.enabled()
                && b.state() != BitmapState.INCONSISTENT);
    }

    @Override
    public void endDeferral() throws BlockIOException {
        deferring = false;
        if (storeAtEnd) {
            storeAtEnd = false;
            bitmaps.checkpointToImage();
        }
    }

    @Override
    public void remove(String name) throws BlockIOException {
        if (bitmaps.list().stream().anyMatch(b -> b.name().equals(name))) {
            bitmaps.remove(name);
        }
    }
}
