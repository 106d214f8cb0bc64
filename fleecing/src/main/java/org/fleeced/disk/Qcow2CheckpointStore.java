package org.fleeced.disk;

import java.util.ArrayList;
import java.util.List;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.checkpoint.CheckpointJournal;
import org.fleeced.checkpoint.CheckpointState;
import org.fleeced.checkpoint.CheckpointStore;
import org.fleeced.qcow2.bitmap.BitmapInfo;
import org.fleeced.qcow2.bitmap.PersistentBitmaps;
import org.fleeced.tracking.StoreObserver;

/**
 * Checkpoints kept as the persistent bitmaps of a qcow2 image: each checkpoint is the bitmap of
 * the same name, in directory order. An adapter between {@link org.fleeced.checkpoint} and
 * {@link org.fleeced.qcow2.bitmap}, which know nothing of each other; {@link DiskOpener} plugs it
 * in for a qcow2 disk. Guest changes reach the bitmaps through
 * {@link PersistentBitmaps#recordChange} (intent log first). A new checkpoint, a removal, a
 * change of recording or of bits reaches the image with the next store of the bitmaps
 * (timer, flush, clean close); until then the checkpoint journal holds it.
 */
final class Qcow2CheckpointStore implements CheckpointStore {
    private final PersistentBitmaps bitmaps;
    private final long sizeBytes;

    Qcow2CheckpointStore(PersistentBitmaps bitmaps, long sizeBytes) {
        this.bitmaps = bitmaps;
        this.sizeBytes = sizeBytes;
    }

    @Override
    public DirtyBitmap create(String name, long size, long granularity) throws BlockIOException {
        bitmaps.add(name, granularity, true, true, false);
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

    /** Nothing to do now: the bitmap object is the one the image stores, enabled flag (AUTO) included. */
    @Override
    public void put(Stored checkpoint) {
    }

    @Override
    public void remove(String name) throws BlockIOException {
        if (bitmaps.list().stream().anyMatch(b -> b.name().equals(name))) {
            bitmaps.remove(name, false);
        }
    }

    @Override
    public Durability durability() {
        if (!bitmaps.writable()) {
            return null;
        }
        return new Durability(CheckpointJournal.sidecarFor(bitmaps.path()), bitmaps.identity(), sizeBytes,
                bitmaps.recovered(), bitmaps.loadedJournalSeq());
    }

    @Override
    public void observeStores(StoreObserver observer) {
        bitmaps.observeStores(observer);
    }

    @Override
    public boolean persistent() {
        return true;
    }
}
