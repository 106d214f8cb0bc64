package org.fleeced.checkpoint;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;

/**
 * The checkpoints of one disk, oldest first: the rotation of dirty bitmaps that incremental and
 * differential backup need (DESIGN.md section 6).
 * <h2>Mechanism</h2>
 * Checkpoint {@code c(i)} holds the changes made between its creation and the creation of
 * {@code c(i+1)}; only the newest records, through {@link #track} (called by
 * {@link DirtyTrackingFilter} for every write, zero write and discard). So the changes since
 * {@code cK} are the union of {@code cK .. newest}.
 *
 * <ul>
 *   <li>{@link #begin}, called while the disk's writes are drained, is the atomic start of a
 *       job: it creates {@code cN} (recording), stops the previous newest, and returns a frozen
 *       copy of the union from the base on: exactly the changes up to the snapshot point, and
 *       none after.</li>
 *   <li>{@link #end} with {@link BackupOutcome#SUCCESS} keeps every checkpoint: differential
 *       backups from older checkpoints stay possible until the caller retires them with
 *       {@link #remove} or {@link #retainNewest}. With FAILURE or ABANDONED the job never
 *       happened: {@code cN} is removed and its bits merged into {@code c(N-1)}, which records
 *       again. The job's changes were never taken out of {@code cK .. c(N-1)}, so an incremental
 *       from {@code c(N-1)} reads them again, a retry may reuse the name {@code cN}, and a loop
 *       of failing jobs does not grow the chain. A failed full job that created the disk's
 *       first checkpoint leaves the disk without checkpoints, as before it.</li>
 *   <li>Removing a checkpoint merges its bits into its predecessor, so the predecessor still
 *       covers everything up to the next checkpoint; removing the newest makes the predecessor
 *       record again.</li>
 *   <li>An {@link CheckpointState#INCONSISTENT} checkpoint anywhere between the base and now
 *       refuses the base with {@link BaseRefusal#BASE_INCONSISTENT}.</li>
 * </ul>
 *
 * <p>Thread safety: everything but {@link #track} runs under {@code lock}. {@link #track} reads
 * one volatile field and relies on the bitmap's own thread safety, so guest writes never take
 * this lock.
 */
public final class CheckpointSet {
    private final long sizeBytes;
    private final long granularity;
    private final CheckpointStore store;
    private final ReentrantLock lock = new ReentrantLock();
    /** Oldest first; names unique. Guarded by {@code lock}. */
    private final List<Checkpoint> checkpoints = new ArrayList<>();
    /** The bitmap of the newest checkpoint when it records, else null. Written under {@code lock}. */
    private volatile DirtyBitmap recording;

    private CheckpointSet(long sizeBytes, long granularity, CheckpointStore store) {
        this.sizeBytes = sizeBytes;
        this.granularity = granularity;
        this.store = store;
    }

    /**
     * Loads the checkpoints of a disk of {@code sizeBytes} from {@code store}; new ones get
     * bitmaps of {@code granularity} bytes per bit. The newest one records unless inconsistent.
     */
    public static CheckpointSet open(long sizeBytes, long granularity, CheckpointStore store) throws BlockIOException {
        CheckpointSet set = new CheckpointSet(sizeBytes, granularity, store);
        set.lock.lock();
        try {
            for (CheckpointStore.Stored s : store.loadAll()) {
                set.checkpoints.add(new Checkpoint(s.name(), s.bitmap(), s.state()));
            }
            set.updateRecordingLocked();
            return set;
        } finally {
            set.lock.unlock();
        }
    }

    /** A disk without checkpoints whose bitmaps live in memory. */
    public static CheckpointSet inMemory(long sizeBytes, long granularity) {
        try {
            return open(sizeBytes, granularity, new InMemoryCheckpointStore());
        } catch (BlockIOException e) {
            throw new IllegalStateException("the in-memory store does not fail", e);
        }
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    public long granularity() {
        return granularity;
    }

    /** Records a guest change of {@code [offset, offset + length)} in the recording checkpoint. */
    public void track(long offset, long length) {
        DirtyBitmap bitmap = recording;
        if (bitmap != null && length > 0) {
            bitmap.track(offset, length);
        }
    }

    /** The checkpoints, oldest first. */
    public List<CheckpointInfo> list() {
        lock.lock();
        try {
            return checkpoints.stream().map(Checkpoint::info).toList();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Checks, without changing anything, that {@link #begin} would accept the request; a
     * refused base with {@code fallBackToFull} is accepted.
     */
    public void check(String newName, BackupBase base) throws CheckpointException {
        lock.lock();
        try {
            checkNameLocked(newName);
            resolveLocked(base);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Starts a job: creates checkpoint {@code newName} (none when null) and returns the changes
     * the job covers. The caller has drained every guest write of the disk, and keeps it drained
     * until the copy-before-write filter is in place, so that the returned changes and the
     * snapshot are of the same instant.
     */
    public CheckpointStart begin(String newName, BackupBase base) throws CheckpointException, BlockIOException {
        lock.lock();
        try {
            checkNameLocked(newName);
            Resolved resolved = resolveLocked(base);
            CheckpointStart start = resolved.chain == null ? CheckpointStart.full(newName, resolved.refusal)
                    : CheckpointStart.changesSince(newName, resolved.chain.getFirst().name, resolved.chain.size() == 1,
                            unionOf(resolved.chain).frozenCopy());
            if (newName != null) {
                addNewestLocked(newName);
            }
            return start;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Ends a job that {@link #begin} started. SUCCESS keeps its checkpoint. Any other outcome
     * makes the job never have happened: its checkpoint is removed and its changes merged into
     * the checkpoint before it, which records again when it is the newest (see the class note).
     */
    public void end(CheckpointStart start, BackupOutcome outcome) throws BlockIOException {
        if (outcome == BackupOutcome.SUCCESS || start.created() == null) {
            return;
        }
        lock.lock();
        try {
            Checkpoint created = findLocked(start.created());
            if (created != null) {
                removeLocked(created);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Removes a checkpoint, merging its changes into its predecessor; see the class note. */
    public void remove(String name) throws CheckpointException, BlockIOException {
        lock.lock();
        try {
            removeLocked(requireLocked(name));
        } finally {
            lock.unlock();
        }
    }

    private void removeLocked(Checkpoint gone) throws BlockIOException {
        int index = checkpoints.indexOf(gone);
        checkpoints.remove(index);
        store.remove(gone.name);
        if (index > 0) {
            Checkpoint predecessor = checkpoints.get(index - 1);
            predecessor.bitmap.merge(gone.bitmap);
            if (index == checkpoints.size() && predecessor.state != CheckpointState.INCONSISTENT) {
                predecessor.bitmap.setEnabled(true);
                if (predecessor.state == CheckpointState.FROZEN) {
                    predecessor.state = CheckpointState.RECORDING;
                }
            }
            store.put(predecessor.stored());
        }
        updateRecordingLocked();
    }

    /**
     * Lets the {@link #begin} calls that follow skip the store's fsyncs: the caller holds the
     * disk's guest I/O back, and calls {@link #endDeferral()} once it lets I/O go again. What a
     * crash could turn into a lost change (a disk's first checkpoint: no recording checkpoint
     * covers its changes yet) the store stores in {@link #endDeferral()}, after guest I/O
     * resumed; the rest waits for its next store (see {@link CheckpointStore#beginDeferral()}).
     */
    public void deferStores() {
        lock.lock();
        try {
            store.beginDeferral();
        } finally {
            lock.unlock();
        }
    }

    /** Ends the window {@link #deferStores()} opened. */
    public void endDeferral() throws BlockIOException {
        lock.lock();
        try {
            store.endDeferral();
        } finally {
            lock.unlock();
        }
    }

    /** Whether the bitmaps outlive the daemon (stored in the image) or live in memory only. */
    public boolean persistent() {
        return store.persistent();
    }

    /**
     * Adds checkpoint {@code name} as the newest, outside any job (QEMU's bitmap-add): it records
     * every change from now on, and the previous newest stops recording.
     */
    public void create(String name) throws CheckpointException, BlockIOException {
        lock.lock();
        try {
            checkNameLocked(name);
            addNewestLocked(name);
        } finally {
            lock.unlock();
        }
    }

    /** Marks every cluster of checkpoint {@code name} clean. */
    public void clear(String name) throws CheckpointException, BlockIOException {
        lock.lock();
        try {
            Checkpoint c = requireLocked(name);
            c.bitmap.clear();
            store.put(c.stored());
        } finally {
            lock.unlock();
        }
    }

    /** ORs the named checkpoints into {@code name}; an inconsistent source is refused. */
    public void merge(String name, List<String> sources) throws CheckpointException, BlockIOException {
        lock.lock();
        try {
            Checkpoint target = requireLocked(name);
            List<Checkpoint> from = new ArrayList<>();
            for (String source : sources) {
                Checkpoint c = requireLocked(source);
                if (c.state == CheckpointState.INCONSISTENT) {
                    throw new CheckpointException(BaseRefusal.BASE_INCONSISTENT, "checkpoint " + source
                            + " is inconsistent and cannot be merged");
                }
                from.add(c);
            }
            for (Checkpoint c : from) {
                target.bitmap.merge(c.bitmap);
            }
            store.put(target.stored());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Starts or stops the recording of the newest checkpoint. Only the newest may record: an
     * older one holds exactly the changes up to the next, and is refused.
     */
    public void setEnabled(String name, boolean enabled) throws CheckpointException, BlockIOException {
        lock.lock();
        try {
            Checkpoint c = requireLocked(name);
            if (c != checkpoints.getLast()) {
                if (!enabled) {
                    return;
                }
                throw new CheckpointException("only the newest checkpoint records; " + name + " is older");
            }
            if (enabled && c.state == CheckpointState.INCONSISTENT) {
                throw new CheckpointException(BaseRefusal.BASE_INCONSISTENT, "checkpoint " + name
                        + " is inconsistent; delete it and create a new one");
            }
            c.bitmap.setEnabled(enabled);
            if (c.state == CheckpointState.RECORDING && !enabled) {
                c.state = CheckpointState.FROZEN;
            } else if (c.state == CheckpointState.FROZEN && enabled) {
                c.state = CheckpointState.RECORDING;
            }
            recording = enabled ? c.bitmap : null;
            store.put(c.stored());
        } finally {
            lock.unlock();
        }
    }

    /** The bytes changed since checkpoint {@code base} (what an incremental backup from it reads). */
    public long changedBytesSince(String base) throws CheckpointException {
        lock.lock();
        try {
            Resolved resolved = resolveLocked(BackupBase.differentialFrom(base));
            return unionOf(resolved.chain).dirtyBytes();
        } finally {
            lock.unlock();
        }
    }

    private Checkpoint requireLocked(String name) throws CheckpointException {
        Checkpoint c = findLocked(name);
        if (c == null) {
            throw new CheckpointException("no checkpoint " + name);
        }
        return c;
    }

    /** Drops the oldest checkpoints until at most {@code count} remain (count at least 1). */
    public void retainNewest(int count) throws BlockIOException {
        if (count < 1) {
            throw new IllegalArgumentException("keep at least the recording checkpoint, not " + count);
        }
        lock.lock();
        try {
            while (checkpoints.size() > count) {
                Checkpoint oldest = checkpoints.removeFirst();
                store.remove(oldest.name);
            }
        } finally {
            lock.unlock();
        }
    }

    private void checkNameLocked(String newName) throws CheckpointException {
        if (newName != null && findLocked(newName) != null) {
            throw new CheckpointException("checkpoint " + newName + " already exists");
        }
    }

    /** The checkpoints whose union is the job's changes (null for full), and why a refused base fell back. */
    private record Resolved(List<Checkpoint> chain, BaseRefusal refusal) {
    }

    private Resolved resolveLocked(BackupBase base) throws CheckpointException {
        if (base.kind() == BackupBase.Kind.FULL) {
            return new Resolved(null, null);
        }
        BaseRefusal refusal;
        String message;
        int from = base.kind() == BackupBase.Kind.INCREMENTAL ? checkpoints.size() - 1 : indexOfLocked(base.checkpoint());
        if (checkpoints.isEmpty()) {
            refusal = BaseRefusal.NO_CHECKPOINTS;
            message = "the disk has no checkpoint to back up incrementally from";
        } else if (from < 0) {
            refusal = BaseRefusal.BASE_UNKNOWN;
            message = "no checkpoint " + base.checkpoint() + " on this disk";
        } else {
            List<Checkpoint> chain = List.copyOf(checkpoints.subList(from, checkpoints.size()));
            Checkpoint broken = chain.stream().filter(c -> c.state == CheckpointState.INCONSISTENT).findFirst().orElse(null);
            if (broken == null) {
                return new Resolved(chain, null);
            }
            refusal = BaseRefusal.BASE_INCONSISTENT;
            message = "checkpoint " + broken.name + " is inconsistent, so changes since "
                    + chain.getFirst().name + " are unknown";
        }
        if (base.fallBackToFull()) {
            return new Resolved(null, refusal);
        }
        throw new CheckpointException(refusal, message + "; take a full backup");
    }

    private DirtyBitmap unionOf(List<Checkpoint> chain) {
        DirtyBitmap union = new DirtyBitmap(sizeBytes, granularity);
        for (Checkpoint c : chain) {
            union.merge(c.bitmap);
        }
        return union;
    }

    private void addNewestLocked(String name) throws BlockIOException {
        if (!checkpoints.isEmpty()) {
            Checkpoint previous = checkpoints.getLast();
            previous.bitmap.setEnabled(false);
            if (previous.state == CheckpointState.RECORDING) {
                previous.state = CheckpointState.FROZEN;
            }
            store.put(previous.stored());
        }
        Checkpoint created = new Checkpoint(name, store.create(name, sizeBytes, granularity), CheckpointState.RECORDING);
        created.bitmap.setEnabled(true);
        checkpoints.add(created);
        store.put(created.stored());
        updateRecordingLocked();
    }

    private void updateRecordingLocked() {
        DirtyBitmap newest = null;
        for (Checkpoint c : checkpoints) {
            boolean isNewest = c == checkpoints.getLast() && c.state != CheckpointState.INCONSISTENT;
            c.bitmap.setEnabled(isNewest);
            if (isNewest) {
                newest = c.bitmap;
            }
        }
        recording = newest;
    }

    private Checkpoint findLocked(String name) {
        int i = indexOfLocked(name);
        return i < 0 ? null : checkpoints.get(i);
    }

    private int indexOfLocked(String name) {
        for (int i = 0; i < checkpoints.size(); i++) {
            if (checkpoints.get(i).name.equals(name)) {
                return i;
            }
        }
        return -1;
    }

    /** One checkpoint; its fields change only under the set's lock. */
    private static final class Checkpoint {
        final String name;
        final DirtyBitmap bitmap;
        /** Guarded by the set's lock. */
        CheckpointState state;

        Checkpoint(String name, DirtyBitmap bitmap, CheckpointState state) {
            this.name = name;
            this.bitmap = bitmap;
            this.state = state;
        }

        CheckpointInfo info() {
            return new CheckpointInfo(name, state, bitmap.isEnabled(), bitmap.dirtyBytes());
        }

        CheckpointStore.Stored stored() {
            return new CheckpointStore.Stored(name, bitmap, state);
        }
    }
}
