package org.fleeced.checkpoint;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.tracking.StoreObserver;

/**
 * The checkpoints of one disk, oldest first: the rotation of dirty bitmaps that incremental and
 * differential backup need (DESIGN.md section 6).
 * <h2>Mechanism</h2>
 * Checkpoint {@code c(i)} holds the changes made between its creation and the creation of
 * {@code c(i+1)}; only the newest records, through {@link #track} (called by the disk's dirty
 * tracking for every write, zero write and discard). So the changes since {@code cK} are the
 * union of {@code cK .. newest}.
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
 * <h2>Durability</h2>
 * With a persistent store, every transition is appended to the disk's {@link CheckpointJournal}
 * (one small fdatasync) first, and changes the checkpoints in memory only once that record is
 * durable: a transition whose record fails answers the error and changes nothing (a checkpoint
 * a failed create would have added does not exist, a failed job's checkpoint stays until its end
 * is recorded). {@code appliedSeq} tells a background store which records its copy of the
 * bitmaps holds: it reads it before copying, so the journal keeps every record still being
 * applied. The store writes the bitmaps later; after an unclean stop {@link #open} replays the
 * journal on what the image holds ({@link JournalReplay}). A record whose fdatasync failed may
 * still reach the disk, as after any failed fsync: after a crash, that transition may have
 * happened.
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
    /** Guarded by {@code lock}. */
    private final CheckpointChain chain;
    /** The disk's journal; null for a store in memory. Set once during open. */
    private CheckpointJournal journal;
    /** The bitmap of the newest checkpoint when it records, else null. Written under {@code lock}. */
    private volatile DirtyBitmap recording;
    /** The newest journal record whose transition is in memory too. Written under {@code lock}. */
    private volatile long appliedSeq;

    private CheckpointSet(long sizeBytes, long granularity, CheckpointStore store) {
        this.sizeBytes = sizeBytes;
        this.granularity = granularity;
        this.store = store;
        this.chain = new CheckpointChain(sizeBytes, granularity, store);
    }

    /**
     * Loads the checkpoints of a disk of {@code sizeBytes} from {@code store}; new ones get
     * bitmaps of {@code granularity} bytes per bit. A persistent store's checkpoints are
     * recovered with the journal an unclean stop left, and a new journal is started. The newest
     * one records unless inconsistent.
     */
    public static CheckpointSet open(long sizeBytes, long granularity, CheckpointStore store) throws BlockIOException {
        CheckpointSet set = new CheckpointSet(sizeBytes, granularity, store);
        set.lock.lock();
        try {
            for (CheckpointStore.Stored s : store.loadAll()) {
                set.chain.list.add(new Checkpoint(s.name(), s.bitmap(), s.state()));
            }
            CheckpointStore.Durability durability = store.durability();
            if (durability != null) {
                set.startJournal(durability);
            }
            set.recording = set.chain.updateRecording();
            return set;
        } finally {
            set.lock.unlock();
        }
    }

    private void startJournal(CheckpointStore.Durability d) throws BlockIOException {
        JournalReader.Contents left = JournalReader.read(d.journal(), d.identity(), d.imageSize());
        List<JournalEntry> failed = JournalReplay.recover(chain, left, d.recovered(), d.storedSeq());
        journal = CheckpointJournal.create(d.journal(), d.identity(), d.imageSize(), left);
        for (JournalEntry e : failed) {
            journal.append(e);
        }
        appliedSeq = journal.lastSeq();
        CheckpointJournal opened = journal;
        store.observeStores(new StoreObserver() {
            @Override
            public long beforeStore() {
                return appliedSeq;
            }

            @Override
            public void stored(long token) throws BlockIOException {
                opened.compactTo(token);
            }

            @Override
            public void closedCleanly() throws BlockIOException {
                opened.delete();
            }
        });
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
            return chain.list.stream().map(Checkpoint::info).toList();
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
            chain.resolve(base);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Starts a job: creates checkpoint {@code newName} (none when null) and returns the changes
     * the job covers. The caller has drained every guest write of the disk, and keeps it drained
     * until the copy-before-write filter is in place, so that the returned changes and the
     * snapshot are of the same instant. The new checkpoint is journaled (one small fdatasync),
     * never stored in the image here.
     */
    public CheckpointStart begin(String newName, BackupBase base) throws CheckpointException, BlockIOException {
        lock.lock();
        try {
            checkNameLocked(newName);
            CheckpointChain.Resolved resolved = chain.resolve(base);
            CheckpointStart start = resolved.chain() == null ? CheckpointStart.full(newName, resolved.refusal())
                    : CheckpointStart.changesSince(newName, resolved.chain().getFirst().name, resolved.chain().size() == 1,
                            chain.unionOf(resolved.chain()).frozenCopy());
            if (newName != null) {
                long seq = journal(JournalEntry.of(JournalEntry.Kind.BEGIN, newName));
                addNewestOrUndo(newName, seq, JournalEntry.Kind.FAIL);
            }
            return start;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Ends a job that {@link #begin} started. SUCCESS commits its checkpoint. Any other outcome
     * makes the job never have happened: its checkpoint is removed and its changes merged into
     * the checkpoint before it, which records again when it is the newest (see the class note).
     */
    public void end(CheckpointStart start, BackupOutcome outcome) throws BlockIOException {
        if (start.created() == null) {
            return;
        }
        lock.lock();
        try {
            Checkpoint created = chain.find(start.created());
            if (outcome == BackupOutcome.SUCCESS) {
                applied(journal(JournalEntry.of(JournalEntry.Kind.COMMIT, start.created())));
            } else if (created != null) {
                long seq = journal(JournalEntry.of(JournalEntry.Kind.FAIL, start.created()));
                chain.remove(created);
                recording = chain.updateRecording();
                applied(seq);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Removes a checkpoint, merging its changes into its predecessor; see the class note. */
    public void remove(String name) throws CheckpointException, BlockIOException {
        lock.lock();
        try {
            Checkpoint gone = chain.require(name);
            long seq = journal(JournalEntry.of(JournalEntry.Kind.REMOVE, name));
            chain.remove(gone);
            recording = chain.updateRecording();
            applied(seq);
        } finally {
            lock.unlock();
        }
    }

    /** Whether the bitmaps outlive the daemon (stored beside the data) or live in memory only. */
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
            long seq = journal(JournalEntry.of(JournalEntry.Kind.CREATE, name));
            addNewestOrUndo(name, seq, JournalEntry.Kind.REMOVE);
        } finally {
            lock.unlock();
        }
    }

    /** Marks every cluster of checkpoint {@code name} clean. */
    public void clear(String name) throws CheckpointException, BlockIOException {
        lock.lock();
        try {
            Checkpoint c = chain.require(name);
            long seq = journal(JournalEntry.of(JournalEntry.Kind.CLEAR, name));
            c.bitmap.clear();
            store.put(c.stored());
            applied(seq);
        } finally {
            lock.unlock();
        }
    }

    /** ORs the named checkpoints into {@code name}; an inconsistent source is refused. */
    public void merge(String name, List<String> sources) throws CheckpointException, BlockIOException {
        lock.lock();
        try {
            Checkpoint target = chain.require(name);
            List<Checkpoint> from = new ArrayList<>();
            for (String source : sources) {
                Checkpoint c = chain.require(source);
                if (!c.consistent()) {
                    throw new CheckpointException(BaseRefusal.BASE_INCONSISTENT, "checkpoint " + source
                            + " is inconsistent and cannot be merged");
                }
                from.add(c);
            }
            long seq = journal(new JournalEntry(JournalEntry.Kind.MERGE, name, sources));
            for (Checkpoint c : from) {
                target.bitmap.merge(c.bitmap);
            }
            store.put(target.stored());
            applied(seq);
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
            Checkpoint c = chain.require(name);
            if (c != chain.list.getLast()) {
                if (!enabled) {
                    return;
                }
                throw new CheckpointException("only the newest checkpoint records; " + name + " is older");
            }
            if (enabled && !c.consistent()) {
                throw new CheckpointException(BaseRefusal.BASE_INCONSISTENT, "checkpoint " + name
                        + " is inconsistent; delete it and create a new one");
            }
            long seq = journal(JournalEntry.of(enabled ? JournalEntry.Kind.ENABLE : JournalEntry.Kind.DISABLE, name));
            chain.setEnabled(c, enabled);
            recording = enabled ? c.bitmap : null;
            applied(seq);
        } finally {
            lock.unlock();
        }
    }

    /** The bytes changed since checkpoint {@code base} (what an incremental backup from it reads). */
    public long changedBytesSince(String base) throws CheckpointException {
        lock.lock();
        try {
            CheckpointChain.Resolved resolved = chain.resolve(BackupBase.differentialFrom(base));
            return chain.unionOf(resolved.chain()).dirtyBytes();
        } finally {
            lock.unlock();
        }
    }

    /** Drops the oldest checkpoints until at most {@code count} remain (count at least 1). */
    public void retainNewest(int count) throws BlockIOException {
        if (count < 1) {
            throw new IllegalArgumentException("keep at least the recording checkpoint, not " + count);
        }
        lock.lock();
        try {
            while (chain.list.size() > count) {
                Checkpoint oldest = chain.list.getFirst();
                long seq = journal(JournalEntry.of(JournalEntry.Kind.REMOVE, oldest.name));
                chain.remove(oldest);
                recording = chain.updateRecording();
                applied(seq);
            }
        } finally {
            lock.unlock();
        }
    }

    private void checkNameLocked(String newName) throws CheckpointException {
        if (newName != null && chain.find(newName) != null) {
            throw new CheckpointException("checkpoint " + newName + " already exists");
        }
    }

    /**
     * Makes a transition durable before anything changes in memory; returns its sequence number
     * (0 for a store in memory, which has no journal). The caller applies it, then calls
     * {@link #applied}.
     */
    private long journal(JournalEntry entry) throws BlockIOException {
        return journal == null ? 0 : journal.append(entry);
    }

    /** The transition of record {@code seq} is in memory too: a store's copy from now on holds it. */
    private void applied(long seq) {
        if (journal != null) {
            appliedSeq = seq;
        }
    }

    /**
     * Adds {@code name} as the newest, recorded as {@code seq}. When the store refuses it, the
     * record is taken back by a durable {@code undo} record (REMOVE or FAIL: replay then adds
     * and removes it), and nothing changed.
     */
    private void addNewestOrUndo(String name, long seq, JournalEntry.Kind undo) throws BlockIOException {
        try {
            chain.addNewest(name);
        } catch (BlockIOException | RuntimeException e) {
            try {
                applied(journal(JournalEntry.of(undo, name)));
            } catch (BlockIOException undoFailed) {
                e.addSuppressed(undoFailed);
            }
            throw e;
        }
        recording = chain.updateRecording();
        applied(seq);
    }
}
