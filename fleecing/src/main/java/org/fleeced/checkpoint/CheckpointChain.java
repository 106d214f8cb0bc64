package org.fleeced.checkpoint;

import java.util.ArrayList;
import java.util.List;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;

/**
 * The checkpoints of one disk, oldest first, and the transitions between them, in memory and in
 * the {@link CheckpointStore}: what {@link CheckpointSet} does live and {@link JournalReplay}
 * does again after a crash. Not thread-safe: the set's lock guards it.
 */
final class CheckpointChain {
    private final long sizeBytes;
    private final long granularity;
    private final CheckpointStore store;
    /** Oldest first; names unique. */
    final List<Checkpoint> list = new ArrayList<>();

    CheckpointChain(long sizeBytes, long granularity, CheckpointStore store) {
        this.sizeBytes = sizeBytes;
        this.granularity = granularity;
        this.store = store;
    }

    Checkpoint find(String name) {
        int i = indexOf(name);
        return i < 0 ? null : list.get(i);
    }

    int indexOf(String name) {
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i).name.equals(name)) {
                return i;
            }
        }
        return -1;
    }

    Checkpoint require(String name) throws CheckpointException {
        Checkpoint c = find(name);
        if (c == null) {
            throw new CheckpointException("no checkpoint " + name);
        }
        return c;
    }

    /**
     * Adds {@code name} as the newest, recording; the previous newest freezes. The new bitmap
     * records before the previous one stops: a guest write racing a creation outside a job (the
     * disk is not drained then) lands in one of them or in both, never in neither.
     */
    void addNewest(String name) throws BlockIOException {
        Checkpoint created = new Checkpoint(name, store.create(name, sizeBytes, granularity), CheckpointState.RECORDING);
        created.bitmap.setEnabled(true);
        if (!list.isEmpty()) {
            Checkpoint previous = list.getLast();
            previous.bitmap.setEnabled(false);
            if (previous.state == CheckpointState.RECORDING) {
                previous.state = CheckpointState.FROZEN;
            }
            store.put(previous.stored());
        }
        list.add(created);
        store.put(created.stored());
    }

    /**
     * Removes {@code gone}, merging its bits into its predecessor, which records again when it
     * becomes the newest.
     */
    void remove(Checkpoint gone) throws BlockIOException {
        int index = list.indexOf(gone);
        list.remove(index);
        store.remove(gone.name);
        if (index > 0) {
            Checkpoint predecessor = list.get(index - 1);
            predecessor.bitmap.merge(gone.bitmap);
            if (index == list.size() && predecessor.consistent()) {
                predecessor.bitmap.setEnabled(true);
                if (predecessor.state == CheckpointState.FROZEN) {
                    predecessor.state = CheckpointState.RECORDING;
                }
            }
            store.put(predecessor.stored());
        }
    }

    /** Starts or stops the recording of {@code c}, which the caller checked is the newest and consistent. */
    void setEnabled(Checkpoint c, boolean enabled) throws BlockIOException {
        c.bitmap.setEnabled(enabled);
        if (c.state == CheckpointState.RECORDING && !enabled) {
            c.state = CheckpointState.FROZEN;
        } else if (c.state == CheckpointState.FROZEN && enabled) {
            c.state = CheckpointState.RECORDING;
        }
        store.put(c.stored());
    }

    /** Lets only the newest consistent checkpoint record; returns its bitmap, or null. */
    DirtyBitmap updateRecording() {
        DirtyBitmap newest = null;
        for (Checkpoint c : list) {
            boolean isNewest = c == list.getLast() && c.consistent();
            c.bitmap.setEnabled(isNewest);
            if (isNewest) {
                newest = c.bitmap;
            }
        }
        return newest;
    }

    DirtyBitmap unionOf(List<Checkpoint> chain) {
        DirtyBitmap union = new DirtyBitmap(sizeBytes, granularity);
        for (Checkpoint c : chain) {
            union.merge(c.bitmap);
        }
        return union;
    }

    /** The base after any fallback, and the checkpoints whose union is the job's changes (null for full). */
    record Resolved(BackupBase base, List<Checkpoint> chain, BaseRefusal refusal) {
    }

    Resolved resolve(BackupBase base) throws CheckpointException {
        if (base.kind() == BackupBase.Kind.FULL) {
            return new Resolved(base, null, null);
        }
        BaseRefusal refusal;
        String message;
        int from = base.kind() == BackupBase.Kind.INCREMENTAL ? list.size() - 1 : indexOf(base.checkpoint());
        if (list.isEmpty()) {
            refusal = BaseRefusal.NO_CHECKPOINTS;
            message = "the disk has no checkpoint to back up incrementally from";
        } else if (from < 0) {
            refusal = BaseRefusal.BASE_UNKNOWN;
            message = "no checkpoint " + base.checkpoint() + " on this disk";
        } else {
            List<Checkpoint> chain = List.copyOf(list.subList(from, list.size()));
            Checkpoint broken = chain.stream().filter(c -> !c.consistent()).findFirst().orElse(null);
            if (broken == null) {
                return new Resolved(base, chain, null);
            }
            refusal = BaseRefusal.BASE_INCONSISTENT;
            message = "checkpoint " + broken.name + " is inconsistent, so changes since "
                    + chain.getFirst().name + " are unknown";
        }
        if (base.fallBackToFull()) {
            return new Resolved(BackupBase.full(), null, refusal);
        }
        throw new CheckpointException(refusal, message + "; take a full backup");
    }
}
