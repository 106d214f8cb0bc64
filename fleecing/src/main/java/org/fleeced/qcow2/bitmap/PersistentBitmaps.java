package org.fleeced.qcow2.bitmap;

import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Logger;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.qcow2.FeatureBits;
import org.fleeced.qcow2.Qcow2ExtensionStorage;
import org.fleeced.qcow2.Qcow2Metadata;
import org.fleeced.tracking.ChangeRecorder;
import org.fleeced.tracking.IntentLog;
import org.fleeced.tracking.PersistentRecorder;
import org.fleeced.tracking.RecoveredIntents;
import org.fleeced.tracking.StoreAfterFlush;
import org.fleeced.tracking.StoreObserver;

/**
 * The dirty bitmaps of one open qcow2 image: QEMU-compatible persistent bitmaps (qcow2 spec
 * "Bitmaps") kept usable across crashes by a write-intent log sidecar (DESIGN.md sections 4, 6).
 * It is the {@link ChangeRecorder} of the disk's dirty-tracking filter; where that filter and
 * this object sit in a disk's stack, and who builds them, is drawn in {@link org.fleeced.block}.
 * It does not own the image node: the disk closes this object (the clean store), then the image.
 *
 * What happens on disk at open, on a guest change, at a store and at the clean close is listed
 * in the package's {@code package-info}.
 *
 * <h2>Thread safety</h2>
 * {@link #recordChange} runs on guest request threads without locks of its own (the intent log
 * and each bitmap lock internally). Everything that changes the set of bitmaps or stores them
 * holds {@code slotsLock}, only for in-memory steps. A store holds {@code storeLock} (stores run
 * one at a time) and takes {@code slotsLock} only to copy the bitmaps and to note where they went,
 * never across its writes and syncs: a job's start, which adds its checkpoint with guest I/O
 * drained, never waits for a background store. Stores take the image's metadata lock only for
 * short in-memory steps and never across a sync ({@link BitmapStore}), so a store does not hold
 * guest I/O either. Lock order: storeLock, then slotsLock, then the metadata lock.
 */
public final class PersistentBitmaps implements PersistentRecorder {
    private static final Logger LOG = Logger.getLogger(PersistentBitmaps.class.getName());

    /** Made when an image first needs an identity, not when the class loads (it loads the security providers). */
    private static final class Identities {
        static final SecureRandom RANDOM = new SecureRandom();
    }

    private final Path image;
    private final Qcow2ExtensionStorage storage;
    private final Qcow2Metadata metadata;
    private final long diskSize;
    /** Persistent bitmaps can be stored: read-write and a version 3 image. */
    private final boolean writable;
    private final BitmapPersistenceOptions options;
    private final BitmapStore store;
    /** Serializes stores and the transitions that store at once. */
    private final ReentrantLock storeLock = new ReentrantLock();
    /** Guards the set of bitmaps, their stored tables and {@code closed}; held briefly, never across I/O. */
    private final ReentrantLock slotsLock = new ReentrantLock();
    /** Every bitmap by name, in directory order. Guarded by slotsLock. */
    private final LinkedHashMap<String, BitmapSlot> slots = new LinkedHashMap<>();
    /** The loaded bitmaps, for the write path; replaced (never changed) under slotsLock. */
    private volatile List<DirtyBitmap> tracked = List.of();
    /** The sidecar; null when not writable. Set once during open. */
    private IntentLog intentLog;
    /** The link the image carries while open. Set once during open. */
    private long identity;
    /** Set by close. Guarded by slotsLock. */
    private boolean closed;
    private final StoreAfterFlush storeAfterFlush = new StoreAfterFlush(this);
    /** What the intent log recovered at open, null after a clean close or when not vouched. Set once during open. */
    private RecoveredIntents recovered;
    /** Tables of bitmaps removed without a store; freed by the next store. Guarded by slotsLock. */
    private final List<StoredTable> removedUnstored = new ArrayList<>();
    /** Told about every store (the checkpoint journal); null when none. Guarded by storeLock. */
    private StoreObserver observer;
    /**
     * The newest checkpoint journal entry the image's directory reflects (recorded in its
     * {@link IntentLogLink}): as found at open, then as each store records it. Guarded by storeLock.
     */
    private long imageJournalSeq;
    /** {@link #imageJournalSeq} as found at open. Set once during open. */
    private long loadedJournalSeq;
    /** The background store waiting for the image's syncs to go on; null when none. Guarded by storeLock. */
    private Background pending;

    private PersistentBitmaps(Path image, Qcow2ExtensionStorage storage, BitmapPersistenceOptions options) {
        this.image = image;
        this.storage = storage;
        this.metadata = storage.metadata();
        this.diskSize = metadata.header().size();
        this.writable = storage.node().capabilities().canWrite() && metadata.header().version() >= 3;
        this.options = options;
        this.store = new BitmapStore(storage, null);
    }

    /**
     * The autoclear bits this object maintains: the image's format node must be opened keeping
     * them ({@link Qcow2ExtensionStorage#open}), or a read-write open clears them as unknown.
     */
    public static final long AUTOCLEAR_BITS = FeatureBits.AUTOCLEAR_BITMAPS | IntentLogLink.AUTOCLEAR_BIT;

    /**
     * Loads the bitmaps of an image just opened with {@link #AUTOCLEAR_BITS} kept. Read-write:
     * the bitmaps are IN_USE on disk and the sidecar {@code IMAGE.fleeced-intent} exists when
     * this returns. Damaged bitmap metadata is EIO; the caller still owns (and closes) the image.
     */
    public static PersistentBitmaps load(Qcow2ExtensionStorage storage, BitmapPersistenceOptions options)
            throws BlockIOException {
        PersistentBitmaps bitmaps = new PersistentBitmaps(storage.path(), storage, options);
        bitmaps.start();
        return bitmaps;
    }

    private void start() throws BlockIOException {
        Path sidecar = IntentLog.sidecarFor(image);
        BitmapLoader.Loaded loaded;
        storeLock.lock();
        try {
            metadata.lock();
            try {
                loaded = new BitmapLoader(storage, store.tables()).loadLocked(sidecar);
            } finally {
                metadata.unlock();
            }
            store.setCurrent(loaded.extension());
            slotsLock.lock();
            try {
                for (BitmapSlot slot : loaded.slots()) {
                    slots.put(slot.name, slot);
                }
                publishTracked();
            } finally {
                slotsLock.unlock();
            }
            if (!writable) {
                return;
            }
            int regionBits = options.regionBits() != 0 ? options.regionBits() : IntentLog.defaultRegionBits(diskSize);
            boolean vouched = loaded.intents() != null;
            recovered = loaded.intents();
            identity = vouched ? loaded.link().identity() : Identities.RANDOM.nextLong();
            loadedJournalSeq = vouched ? loaded.link().journalSeq() : 0;
            imageJournalSeq = loadedJournalSeq;
            if (!vouched) {
                intentLog = IntentLog.create(sidecar, diskSize, regionBits, identity);
            }
            storeAllLocked(true, List.of());
            if (vouched) {
                // the recovered marks stay until the next epoch is retired: the checkpoint
                // journal's replay may still need them for checkpoints the image does not hold
                intentLog = IntentLog.create(sidecar, diskSize, regionBits, identity, recovered);
            }
        } finally {
            storeLock.unlock();
        }
    }

    /** Where the background store waiting for the image's syncs is; null when none (for tests in this package). */
    BitmapStore.Step pendingStep() {
        storeLock.lock();
        try {
            return pending == null ? null : pending.staged().step();
        } finally {
            storeLock.unlock();
        }
    }

    /**
     * Whether no step of a background store can run now: none is pending, or it waits for a sync
     * of the image not yet done (for tests in this package that copy the files as a kill would).
     */
    boolean backgroundStoreSettled() {
        storeLock.lock();
        try {
            return pending == null || !storage.syncs().covers(pending.staged().ticket());
        } finally {
            storeLock.unlock();
        }
    }

    /** The image's metadata (lock included), for checks in this package. */
    Qcow2Metadata metadata() {
        return metadata;
    }

    /** Every bitmap, in directory order. */
    public List<BitmapInfo> list() {
        slotsLock.lock();
        try {
            List<BitmapInfo> infos = new ArrayList<>();
            for (BitmapSlot slot : slots.values()) {
                infos.add(slot.info());
            }
            return infos;
        } finally {
            slotsLock.unlock();
        }
    }

    /**
     * The live bitmap of that name (it keeps changing with guest writes while enabled).
     *
     * @throws BlockIOException EINVAL when there is no such bitmap, EIO when it is inconsistent
     */
    public DirtyBitmap get(String name) throws BlockIOException {
        slotsLock.lock();
        try {
            BitmapSlot slot = slotLocked(name);
            if (slot.bitmap == null) {
                throw new BlockIOException(Errno.EIO, "bitmap '" + name + "' of " + image + " is inconsistent and cannot be used: "
                        + slot.reason.description());
            }
            return slot.bitmap;
        } finally {
            slotsLock.unlock();
        }
    }

    /**
     * Adds an empty bitmap. A persistent one is in the image's directory (IN_USE) when this
     * returns, so it survives a crash from then on.
     *
     * @param granularity bytes per bit, a power of two from 512 B to 2 GiB
     * @throws BlockIOException EINVAL for a bad or taken name or granularity (or one too fine for
     *                          the disk's size), EROFS/ENOTSUP when
     *                          the image cannot hold persistent bitmaps, EIO when storing fails
     */
    public void add(String name, long granularity, boolean enabled, boolean persistent) throws BlockIOException {
        add(name, granularity, enabled, persistent, true);
    }

    /**
     * Adds a bitmap as {@link #add(String, long, boolean, boolean)} does, but with {@code storeNow}
     * false a persistent one reaches the image only at the next {@link #checkpointToImage()} or
     * close. For a caller that holds guest I/O back meanwhile (a fleecing job's start) and must
     * not wait for the image's fsyncs there. A crash before that store loses the new bitmap's
     * name, never a change: the bitmaps already in the image stay enabled there, and the intent
     * log covers what they record. Without a store it never waits for one in progress.
     */
    public void add(String name, long granularity, boolean enabled, boolean persistent, boolean storeNow)
            throws BlockIOException {
        int bits = BitmapLimits.checkNew(name, granularity, persistent ? diskSize : 0);
        if (persistent && !writable) {
            throw new BlockIOException(storage.node().capabilities().canWrite() ? Errno.ENOTSUP : Errno.EROFS,
                    image + " cannot hold persistent bitmaps (open read-only, or a version 2 image)");
        }
        boolean store = persistent && storeNow;
        if (store) {
            storeLock.lock();
        }
        try {
            slotsLock.lock();
            try {
                checkOpenLocked();
                if (slots.containsKey(name)) {
                    throw new BlockIOException(Errno.EINVAL, "a bitmap named '" + name + "' already exists in " + image);
                }
                if (persistent && persistentCountLocked() >= BitmapLimits.MAX_BITMAPS) {
                    throw new BlockIOException(Errno.EINVAL, image + " already has " + BitmapLimits.MAX_BITMAPS + " bitmaps");
                }
                DirtyBitmap bitmap = new DirtyBitmap(diskSize, granularity);
                bitmap.setEnabled(enabled);
                slots.put(name, new BitmapSlot(name, bits, bitmap, persistent, null, null, null, null));
                publishTracked();
            } finally {
                slotsLock.unlock();
            }
            if (store) {
                try {
                    storeAllLocked(true, List.of());
                } catch (BlockIOException | RuntimeException e) {
                    withSlots(() -> slots.remove(name));
                    throw e;
                }
            }
        } finally {
            if (store) {
                storeLock.unlock();
            }
        }
    }

    /** Removes a bitmap (an inconsistent one too); a persistent one is gone from the image when this returns. */
    public void remove(String name) throws BlockIOException {
        remove(name, true);
    }

    /** Removes a bitmap; with {@code storeNow} false it leaves the image at the next store (the caller journals it). */
    public void remove(String name, boolean storeNow) throws BlockIOException {
        if (storeNow) {
            storeLock.lock();
        }
        try {
            if (storeNow) {
                // before the slot goes: the pending store notes its new table in the slot, which this store replaces
                finishPendingLocked();
            }
            BitmapSlot slot;
            List<String> order;
            slotsLock.lock();
            try {
                checkOpenLocked();
                slot = slotLocked(name);
                order = List.copyOf(slots.keySet());
                slots.remove(name);
                publishTracked();
                if (slot.persistent && writable && !storeNow && slot.stored != null) {
                    removedUnstored.add(slot.stored);
                }
            } finally {
                slotsLock.unlock();
            }
            if (slot.persistent && writable && storeNow) {
                try {
                    storeAllLocked(true, slot.stored == null ? List.of() : List.of(slot.stored));
                } catch (BlockIOException | RuntimeException e) {
                    // back in its place in the directory (checkpoints are in directory order), as the image still has it
                    withSlots(() -> {
                        LinkedHashMap<String, BitmapSlot> now = new LinkedHashMap<>(slots);
                        slots.clear();
                        for (String n : order) {
                            BitmapSlot s = n.equals(name) ? slot : now.remove(n);
                            if (s != null) {
                                slots.put(n, s);
                            }
                        }
                        slots.putAll(now);
                    });
                    throw e;
                }
            }
        } finally {
            if (storeNow) {
                storeLock.unlock();
            }
        }
    }

    /** Enables or disables a bitmap; for a persistent one the AUTO flag is stored at once. */
    public void setEnabled(String name, boolean enabled) throws BlockIOException {
        storeLock.lock();
        try {
            BitmapSlot slot;
            slotsLock.lock();
            try {
                checkOpenLocked();
                slot = slotLocked(name);
                if (slot.bitmap == null) {
                    throw new BlockIOException(Errno.EIO, "bitmap '" + name + "' is inconsistent and cannot be enabled or disabled");
                }
                slot.bitmap.setEnabled(enabled);
            } finally {
                slotsLock.unlock();
            }
            if (slot.persistent && writable) {
                storeAllLocked(true, List.of());
            }
        } finally {
            storeLock.unlock();
        }
    }

    /**
     * Stores every persistent bitmap into the image (IN_USE stays set) with syncs of its own and
     * retires the intent log's previous epoch, so that a crash from now on only adds regions
     * marked after this call. A pending background store is finished first. For callers that need
     * the store durable when this returns; the daemon's timer and a guest's flush use
     * {@link #storeInBackground()}.
     */
    @Override
    public void checkpointToImage() throws BlockIOException {
        storeLock.lock();
        try {
            withSlots(this::checkOpenLocked);
            if (!writable) {
                return;
            }
            finishPendingLocked();
            StoreObserver.storeInOrder(observer, intentLog, () -> storeAllLocked(true, List.of()));
        } finally {
            storeLock.unlock();
        }
    }

    /**
     * Stores every persistent bitmap as {@link #checkpointToImage()} does, but without a sync of
     * the image: every sync of an image the guest writes hard stalls its writes in the kernel, so
     * the store rides on the syncs the guest asks for anyway (its flushes, FUA writes) and on the
     * clean close. This call writes the new bitmap clusters and returns; after the next sync of
     * the image the header is pointed at them, and after the one after that the old clusters are
     * freed, the journal compacted and the ended epoch retired ({@link BitmapStore}).
     *
     * <p>While a store waits, later calls start none: a call that finds it waiting longer than
     * {@link BitmapPersistenceOptions#guestSyncWaitMillis()} (a guest that does not flush) ends it
     * with syncs of its own. Nothing is lost meanwhile: the journal and the intent marks cover
     * every checkpoint and change since the last store; the journal grows by one record a
     * checkpoint transition, the intent log's map is bounded by the disk's regions.
     */
    @Override
    public void storeInBackground() throws BlockIOException {
        storeLock.lock();
        try {
            withSlots(this::checkOpenLocked);
            if (!writable) {
                return;
            }
            if (pending != null) {
                long waitedMillis = (System.nanoTime() - pending.sinceNanos()) / 1_000_000;
                if (waitedMillis >= options.guestSyncWaitMillis()) {
                    LOG.info(image + ": no flush of the image for " + waitedMillis + " ms; the bitmap store that"
                            + " waited for one syncs the image itself");
                    advancePendingLocked(true);
                }
                return;
            }
            long token = observer == null ? 0 : observer.beforeStore();
            IntentLog.Epoch ended = intentLog.switchEpoch();
            Copies copies = copyLocked(true, List.of());
            BitmapStore.Staged staged;
            try {
                staged = store.stage(copies.items, copies.kept, copies.link, copies.replaced);
            } catch (BlockIOException | RuntimeException e) {
                copies.failed();
                throw e;
            }
            pending = new Background(copies, staged, token, ended, System.nanoTime());
            watchLocked(pending);
        } finally {
            storeLock.unlock();
        }
    }

    /** The random identity that ties the sidecars to this image while it is open read-write. */
    public long identity() {
        return identity;
    }

    /** Whether bitmaps can be stored: read-write and a version 3 image. */
    public boolean writable() {
        return writable;
    }

    /**
     * The newest checkpoint journal entry the image's bitmaps reflected at open (after an
     * unclean stop, replay skips the entries up to it); 0 when unknown.
     */
    public long loadedJournalSeq() {
        return loadedJournalSeq;
    }

    /** The regions the intent log found marked at open after an unclean stop; null otherwise. */
    public RecoveredIntents recovered() {
        return recovered;
    }

    /** The image file. */
    @Override
    public Path path() {
        return image;
    }

    /** Tells {@code storeObserver} about every store from now on; see {@link StoreObserver}. */
    public void observeStores(StoreObserver storeObserver) {
        storeLock.lock();
        try {
            observer = storeObserver;
        } finally {
            storeLock.unlock();
        }
    }

    @Override
    public void recordChange(long offset, long length) throws BlockIOException {
        IntentLog log = intentLog;
        if (log == null) {
            trackAll(offset, length);
            return;
        }
        try (IntentLog.Mark ignored = log.mark(offset, length)) {
            trackAll(offset, length);
        }
    }

    private void trackAll(long offset, long length) {
        for (DirtyBitmap b : tracked) {
            b.track(offset, length);
        }
    }

    /** Once enough regions are marked, starts a store the guest's flush does not wait for ({@link StoreAfterFlush}). */
    @Override
    public void afterFlush() {
        IntentLog log = intentLog;
        if (log != null && options.checkpointAfterRegions() > 0 && log.activeMarkedRegions() >= options.checkpointAfterRegions()) {
            storeAfterFlush.start();
        }
    }

    /**
     * The clean close: every bitmap stored with IN_USE clear, the intent log link dropped, the
     * sidecar deleted. Guest writes must have stopped; the image stays open (its owner closes it
     * next). Later calls do nothing.
     */
    @Override
    public void close() throws BlockIOException {
        storeLock.lock();
        try {
            slotsLock.lock();
            try {
                if (closed) {
                    return;
                }
                closed = true;
            } finally {
                slotsLock.unlock();
            }
            if (!writable) {
                return;
            }
            if (storage.markedCorrupt()) {
                // As QEMU, nothing more is written into an image found damaged: the bitmaps stay as
                // last stored (in use) and the intent log stays beside the image, whose corrupt bit
                // refuses it to the next read-write open until it is repaired.
                LOG.warning(image + ": damaged, so its bitmaps are not stored at close");
                return;
            }
            storeAllLocked(false, List.of());
            if (observer != null) {
                observer.closedCleanly();
            }
            intentLog.delete();
        } finally {
            storeLock.unlock();
        }
    }

    /**
     * Stores the whole directory, durably when this returns (with syncs of its own): new tables
     * for every loaded persistent bitmap (from frozen copies), inconsistent ones kept as they are;
     * {@code inUse} false only at the clean close, which also drops the intent log link. The
     * caller holds storeLock, not slotsLock, and no background store is pending: the copies are
     * taken under slotsLock, the store runs without it, and the new tables are noted under it
     * again. The {@link BitmapStore} takes the image's metadata lock only briefly, never across a
     * sync, so guest I/O goes on meanwhile.
     */
    private void storeAllLocked(boolean inUse, List<StoredTable> replacedExtra) throws BlockIOException {
        finishPendingLocked();
        Copies copies = copyLocked(inUse, replacedExtra);
        List<StoredTable> tables;
        try {
            tables = store.store(copies.items, copies.kept, copies.link, copies.replaced);
        } catch (BlockIOException | RuntimeException e) {
            copies.failed();
            throw e;
        }
        copies.stored(tables);
    }

    /** The bitmaps as one store takes them, and what it replaces; see {@link #storeAllLocked}. */
    private final class Copies {
        final List<BitmapStore.Item> items = new ArrayList<>();
        final List<StoredTable> kept = new ArrayList<>();
        final List<StoredTable> replaced = new ArrayList<>();
        final List<BitmapSlot> slotsStored = new ArrayList<>();
        List<StoredTable> removedBefore;
        IntentLogLink link;
        long journalSeq;

        /** The store failed: the tables of bitmaps removed without a store wait for the next one again. */
        void failed() {
            withSlots(() -> removedUnstored.addAll(0, removedBefore));
        }

        /** The store is durable: each bitmap's bits are in its new table. */
        void stored(List<StoredTable> tables) {
            imageJournalSeq = journalSeq;
            slotsLock.lock();
            try {
                for (int i = 0; i < slotsStored.size(); i++) {
                    noteStoredLocked(slotsStored.get(i), kept.get(i), tables.get(i));
                }
            } finally {
                slotsLock.unlock();
            }
        }
    }

    /** Takes the copies of a store under slotsLock (the caller holds storeLock). */
    private Copies copyLocked(boolean inUse, List<StoredTable> replacedExtra) {
        Copies c = new Copies();
        // read before the copies: every journal entry up to it is in the bitmaps copied next
        c.journalSeq = observer == null ? imageJournalSeq : observer.beforeStore();
        c.replaced.addAll(replacedExtra);
        List<Integer> unvouched = new ArrayList<>();
        slotsLock.lock();
        try {
            c.removedBefore = List.copyOf(removedUnstored);
            removedUnstored.clear();
            c.replaced.addAll(c.removedBefore);
            for (BitmapSlot slot : slots.values()) {
                if (!slot.persistent) {
                    continue;
                }
                if (slot.inconsistent()) {
                    unvouched.add(c.items.size());
                    c.items.add(new BitmapStore.Item(slot.entryToStore(inUse), null));
                } else {
                    c.items.add(new BitmapStore.Item(slot.entryToStore(inUse), slot.bitmap.frozenCopy()));
                    if (slot.stored != null) {
                        c.replaced.add(slot.stored);
                    }
                }
                c.kept.add(slot.stored);
                c.slotsStored.add(slot);
            }
        } finally {
            slotsLock.unlock();
        }
        c.link = inUse ? new IntentLogLink(identity, unvouched, c.journalSeq) : null;
        return c;
    }

    /**
     * A background store between its start and its end: the bitmaps it copied, where it is in the
     * image ({@link BitmapStore.Staged}), the journal's token and the intent log epoch it ended.
     */
    private record Background(Copies copies, BitmapStore.Staged staged, long token, IntentLog.Epoch ended,
                              long sinceNanos) {
    }

    /**
     * Starts watching for the sync that lets {@code background} take its next step; the step runs
     * on a thread of its own, never on the guest's thread whose flush completed the sync.
     */
    private void watchLocked(Background background) {
        storage.syncs().whenCovered(background.staged().ticket(),
                () -> Thread.ofVirtual().name("bitmap-store-after-sync").start(() -> continueAfterSync(background)));
    }

    private void continueAfterSync(Background background) {
        storeLock.lock();
        try {
            if (pending == background) {
                advancePendingLocked(false);
            }
        } catch (BlockIOException e) {
            if (e.errno() != Errno.ESHUTDOWN) {
                LOG.warning(image + ": the background store of its bitmaps failed: " + e);
            }
        } catch (RuntimeException e) {
            LOG.warning(image + ": the background store of its bitmaps failed: " + e);
        } finally {
            storeLock.unlock();
        }
    }

    /**
     * Moves the pending background store on as far as the image's syncs so far allow (or, with
     * {@code syncItself}, to its end with syncs of its own). At its end the journal compacts and
     * the ended intent log epoch is retired: only now does the image hold what they covered. A
     * failure drops the store (the epoch stays pending: the next store's switch returns it).
     */
    private void advancePendingLocked(boolean syncItself) throws BlockIOException {
        Background b = pending;
        boolean done;
        try {
            done = store.advance(b.staged(), syncItself);
        } catch (BlockIOException | RuntimeException e) {
            pending = null;
            store.abandon(b.staged(), e);
            b.copies().failed();
            throw e;
        }
        if (!done) {
            watchLocked(b);
            return;
        }
        pending = null;
        b.copies().stored(b.staged().tables());
        if (observer != null) {
            observer.stored(b.token());
        }
        b.ended().retire();
    }

    /** Ends the pending background store, if any, with syncs of its own: before a store that must be durable at once. */
    private void finishPendingLocked() throws BlockIOException {
        if (pending != null) {
            advancePendingLocked(true);
        }
    }

    /**
     * Notes that {@code slot}'s bits are now in {@code table} (they were in {@code before}). A
     * slot removed without a store while the store ran put {@code before} on the removed list;
     * the store has freed that one if it wrote a new table, so the new table takes its place
     * there and the next store frees it.
     */
    private void noteStoredLocked(BitmapSlot slot, StoredTable before, StoredTable table) {
        if (slots.get(slot.name) == slot) {
            slot.stored = table;
            return;
        }
        if (table == before) {
            return;
        }
        for (int j = 0; j < removedUnstored.size(); j++) {
            if (removedUnstored.get(j) == before) {
                removedUnstored.remove(j);
                break;
            }
        }
        removedUnstored.add(table);
    }

    /** Runs {@code step} holding slotsLock (and republishes the bitmaps the write path tracks). */
    private <E extends Exception> void withSlots(SlotsStep<E> step) throws E {
        slotsLock.lock();
        try {
            step.run();
            publishTracked();
        } finally {
            slotsLock.unlock();
        }
    }

    @FunctionalInterface
    private interface SlotsStep<E extends Exception> {
        void run() throws E;
    }

    private void publishTracked() {
        tracked = slots.values().stream().map(slot -> slot.bitmap).filter(Objects::nonNull).toList();
    }

    private BitmapSlot slotLocked(String name) throws BlockIOException {
        BitmapSlot slot = slots.get(name);
        if (slot == null) {
            throw new BlockIOException(Errno.EINVAL, "no bitmap named '" + name + "' in " + image);
        }
        return slot;
    }

    private long persistentCountLocked() {
        return slots.values().stream().filter(slot -> slot.persistent).count();
    }

    private void checkOpenLocked() throws BlockIOException {
        if (closed) {
            throw new BlockIOException(Errno.ESHUTDOWN, "the bitmaps of " + image + " are closed");
        }
    }
}
