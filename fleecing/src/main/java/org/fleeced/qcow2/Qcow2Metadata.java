package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * All metadata of one open image, behind one lock: the header, the L1 table, the L2 cache, the
 * refcounts and the allocator. Data I/O never happens under this lock; lookups, allocation and
 * entry updates do, and so does the ordered write-back.
 *
 * <h2>Write-back and crash safety</h2>
 * Changes to L1, L2 and refcounts are made in memory and written by {@link #flushLocked} in the
 * order that lets a crash leak clusters but never corrupt the image (qcow2 spec "Host cluster
 * management"; DESIGN.md section 4):
 * <ol>
 *   <li>fsync: guest data written so far is durable before any entry that points to it;</li>
 *   <li>refcount blocks, fsync, then refcount table slots of new blocks, fsync: every cluster
 *       is counted before it is referenced;</li>
 *   <li>L2 tables, then (after an fsync, so that new tables are complete) L1 entries, fsync.</li>
 * </ol>
 * A data cluster whose last reference goes away is not freed at once: its refcount drops only
 * after the L2 change that removed the reference is durable (step 3), so a crash can never leave
 * a cluster counted 1 and referenced twice, or referenced and counted 0. Until then the cluster
 * waits in {@code pendingFrees}; the allocator releases them before it grows the file.
 *
 * <p>With lazy refcounts (compatible bit 0) step 2 is skipped until close; instead the dirty
 * bit is set (and synced) before the first L2 or L1 write, and an image found dirty is repaired
 * on open ({@link Qcow2Repair}).
 *
 * <h2>Internal API for other metadata owners</h2>
 * The persistent-bitmaps code allocates clusters with {@link #allocateClustersLocked},
 * releases them with {@link #releaseAfterFlushLocked} (or {@link #freeNowLocked} for clusters
 * nothing on disk references), reserves its regions against data writes with
 * {@link #reserveMetadataLocked} (and ends that with {@link #releaseMetadataReservationLocked}),
 * reaches the file through {@link Qcow2ExtensionStorage}, and reads and writes header extensions with
 * {@link #headerExtensions} and {@link #writeHeaderLocked}. All of these need {@link #lock()}.
 */
public final class Qcow2Metadata {
    private final ReentrantLock lock = new ReentrantLock();
    private final PositionalFile file;
    private final Qcow2Layout layout;
    private final boolean readOnly;
    private final HeaderStore header;
    private final L1Table l1;
    private final TableCache<L2Table> l2Cache;
    private final MetadataRegions regions;
    private final Refcounts refcounts;
    private final ClusterAllocator allocator;
    private final GuestMapping mapping;
    /** Host clusters whose reference is gone in memory but maybe not yet on disk. Guarded by lock. */
    private final List<Long> pendingFrees = new ArrayList<>();
    /** L2 entry changes since open: a write-back without the lock retries when it moved. Guarded by lock. */
    private long mappingChanges;
    /** Set once damage is found; writes are refused from then on. */
    private volatile String corruption;

    Qcow2Metadata(PositionalFile file, Qcow2Header h, boolean readOnly, Qcow2OpenOptions options) throws BlockIOException {
        this.file = file;
        this.layout = h.layout();
        this.readOnly = readOnly;
        this.header = new HeaderStore(file, h);
        this.l1 = L1Table.load(file, h.l1TableOffset(), h.l1Size());
        this.regions = new MetadataRegions(layout);
        regions.setL1(h.l1TableOffset(), (long) h.l1Size() * Qcow2Layout.TABLE_ENTRY_BYTES);
        this.l2Cache = new TableCache<>(options.l2CacheTables(layout));
        RefcountTable table = RefcountTable.load(file, h.refcountTableOffset(), h.refcountTableClusters(), layout);
        this.refcounts = new Refcounts(layout, file, regions, table, options.refcountCacheBlocks(layout));
        RefcountTableGrower grower = new RefcountTableGrower(layout, file, header, refcounts);
        this.allocator = new ClusterAllocator(layout, refcounts, regions, grower, this::releasePendingFreesLocked, file.size());
        this.mapping = new GuestMapping(layout, file, l1, l2Cache, regions, allocator, this::zeroFlagSupported,
                this::corrupt);
    }

    public void lock() {
        lock.lock();
    }

    public void unlock() {
        lock.unlock();
    }

    /** Whether any thread holds the lock now: for assertions that no sync happens under it. */
    public boolean isLocked() {
        return lock.isLocked();
    }

    public Qcow2Layout layout() {
        return layout;
    }

    PositionalFile file() {
        return file;
    }

    public Qcow2Header header() {
        return header.header();
    }

    public List<HeaderExtension> headerExtensions() {
        return header.header().extensions();
    }

    boolean zeroFlagSupported() {
        return header.header().version() >= 3;
    }

    boolean readOnly() {
        return readOnly;
    }

    // ---- mapping ----------------------------------------------------------------------------

    /** The L2 entry of the guest cluster containing {@code guestOffset}. */
    L2Entry entryLocked(long guestOffset) throws BlockIOException {
        return mapping.entry(guestOffset);
    }

    /** Clusters of one kind from {@code guestOffset}: see {@link GuestMapping#run}. */
    ClusterRun runLocked(long guestOffset, long maxLength) throws BlockIOException {
        return mapping.run(guestOffset, maxLength);
    }

    /** Sets the L2 entry of a guest cluster, allocating its L2 table when there is none. */
    void setEntryLocked(long guestOffset, long raw) throws BlockIOException {
        checkWritableLocked();
        mappingChanges++;
        mapping.setEntry(guestOffset, raw);
    }

    /** True when the guest cluster has an L2 table (setting its entry allocates nothing). */
    boolean hasL2TableLocked(long guestOffset) throws BlockIOException {
        return mapping.hasL2Table(guestOffset);
    }

    // ---- allocation -------------------------------------------------------------------------

    /** Allocates {@code count} contiguous clusters with refcount 1 (in the refcount cache). */
    public long allocateClustersLocked(int count) throws BlockIOException {
        checkWritableLocked();
        return allocator.allocate(count);
    }

    /**
     * Drops one reference from every host cluster {@code old} uses, once the change that removed
     * the reference is durable (see the class comment).
     */
    void releaseLocked(L2Entry old) {
        if (old.kind() == L2Entry.Kind.COMPRESSED) {
            for (long c = old.compressedFirstCluster(layout); c <= old.compressedLastCluster(layout); c += layout.clusterSize()) {
                pendingFrees.add(c);
            }
        } else if (old.hasHostCluster()) {
            pendingFrees.add(old.hostOffset());
        }
    }

    /** Drops one reference from {@code count} clusters after the next metadata flush. */
    public void releaseAfterFlushLocked(long hostOffset, int count) {
        for (int i = 0; i < count; i++) {
            pendingFrees.add(hostOffset + layout.clusterOffset(i));
        }
    }

    /**
     * Drops one reference now: only for clusters nothing on disk references. A cluster that is
     * also one of the driver's own tables keeps its reference: a damaged image gave it two owners
     * (an L1 entry naming the bitmap directory as an L2 table) and counted one, so once the other
     * owner lets go the count is right for the one that remains.
     */
    public void freeNowLocked(long hostOffset, int count) throws BlockIOException {
        for (int i = 0; i < count; i++) {
            long host = hostOffset + layout.clusterOffset(i);
            if (!regions.isDriverTable(host)) {
                allocator.decrement(host);
            }
        }
    }

    /** Host offset past every cluster allocated so far. */
    long allocatedEndLocked() {
        return allocator.hostEnd();
    }

    /** Refcount of a host cluster (for checks and for the bitmaps code). */
    public long refcountLocked(long hostOffset) throws BlockIOException {
        return refcounts.get(hostOffset);
    }

    /** Protects a metadata region owned by other code from data writes and allocation. */
    public void reserveMetadataLocked(long offset, long bytes) {
        regions.addRegion(offset, bytes);
    }

    /** Ends the protection of a region reserved with {@link #reserveMetadataLocked}, once its clusters are freed. */
    public void releaseMetadataReservationLocked(long offset, long bytes) {
        regions.releaseRegion(offset, bytes);
    }

    /** Fails when a host cluster about to receive guest data holds metadata. */
    void checkDataClusterLocked(long hostOffset) throws BlockIOException {
        try {
            regions.checkNotMetadata(hostOffset, "guest data write");
        } catch (CorruptionException e) {
            throw corrupt(e);
        }
    }

    private boolean releasePendingFreesLocked() throws BlockIOException {
        if (pendingFrees.isEmpty()) {
            return false;
        }
        flushLocked(false);
        return true;
    }

    // ---- write-back -------------------------------------------------------------------------

    /**
     * Writes every metadata change in crash-safe order (see the class comment) and syncs.
     *
     * @param closing write refcounts even with lazy refcounts, and clear the dirty bit
     */
    /**
     * The part of a guest's flush done under the lock, after a sync of the file taken without it
     * (which covers every write the flush answers for). Returns whether the caller must sync once
     * more, again without the lock.
     * <ul>
     *   <li>A mapping change, a cluster waiting to be freed or a grown refcount table: the full
     *       write-back, with its ordering syncs ({@link #flushLocked}).</li>
     *   <li>Else only refcount blocks may be dirty: the frees and allocations of bitmap stores,
     *       whose own protocol orders what references them. They are written here and synced by
     *       the caller: no metadata pointing at their clusters is written with them, and a block
     *       a crash loses leaks clusters at worst.</li>
     *   <li>Nothing dirty: the sync already taken was the whole flush.</li>
     * </ul>
     * Guest writes wait while the lock is held, so no sync happens here unless it must (a sync
     * under the lock stalled a hard-writing guest for its whole length on every flush).
     */
    boolean flushForGuestLocked() throws BlockIOException {
        if (readOnly) {
            return false;
        }
        if (l2Cache.hasDirty() || l1.isDirty() || !pendingFrees.isEmpty() || refcounts.hasDirtyTable()) {
            flushLocked(false);
            return false;
        }
        boolean lazy = header.header().features().lazyRefcounts() && header.header().version() >= 3;
        if (lazy || !refcounts.hasDirtyBlocks()) {
            return false;
        }
        refcounts.writeDirtyBlocks();
        return true;
    }

    void flushLocked(boolean closing) throws BlockIOException {
        if (readOnly) {
            return;
        }
        boolean lazy = header.header().features().lazyRefcounts() && header.header().version() >= 3;
        boolean mappingDirty = l2Cache.hasDirty() || l1.isDirty();
        file.sync();
        if (lazy && !closing) {
            if (mappingDirty && !header.header().features().has(FeatureBits.INCOMPAT_DIRTY)) {
                header.writeFeatures(header.header().features().withIncompatible(FeatureBits.INCOMPAT_DIRTY, true));
            }
        } else {
            writeRefcountsLocked();
        }
        if (l2Cache.hasDirty()) {
            for (L2Table t : l2Cache.dirtyTables()) {
                file.writeFully(t.hostOffset(), t.encode());
                t.markClean();
            }
        }
        if (l1.isDirty()) {
            file.sync();
            l1.writeDirty(file);
        }
        if (mappingDirty) {
            file.sync();
        }
        List<Long> frees = new ArrayList<>(pendingFrees);
        pendingFrees.clear();
        for (long host : frees) {
            allocator.decrement(host);
        }
    }

    private void writeRefcountsLocked() throws BlockIOException {
        if (refcounts.hasDirtyBlocks()) {
            refcounts.writeDirtyBlocks();
            file.sync();
        }
        if (refcounts.hasDirtyTable()) {
            refcounts.writeDirtyTable();
            file.sync();
        }
    }

    // ---- write-back without holding the lock across syncs ---------------------------------

    /**
     * Writes the changed refcount blocks into the page cache, without a sync: for a writer that
     * rides on later syncs of the file ({@link org.fleeced.block.file.SyncProgress}) to make them
     * durable. Writing refcounts early is always safe: a cluster counted before it is referenced
     * leaks at worst. Table entries are not written: one may name a block only once that block
     * is durable ({@link #refcountTableDirtyLocked}).
     */
    void writeRefcountBlocksLocked() throws BlockIOException {
        if (!readOnly) {
            refcounts.writeDirtyBlocks();
        }
    }

    /**
     * Whether a refcount table entry changed (a new refcount block) and is not written yet. Every
     * writer of the table but {@link #commitRefcountsUnlocked} syncs before it releases the lock,
     * so a clean table is a durable one.
     */
    boolean refcountTableDirtyLocked() {
        return refcounts.hasDirtyTable();
    }

    /**
     * Makes the refcount of every cluster allocated so far durable, holding the lock only to
     * write changed refcount blocks (then clean) and table entries into the page cache, never
     * across a sync: blocks, sync, then table entries only when no new block appeared meanwhile
     * (a table entry must never name a block not yet durable), sync. Writing refcounts early is
     * always safe: a cluster counted before it is referenced leaks at worst.
     */
    void commitRefcountsUnlocked() throws BlockIOException {
        commitRefcountsSyncing();
    }

    /** {@link #commitRefcountsUnlocked}; returns whether it synced the file (it had refcounts to write). */
    private boolean commitRefcountsSyncing() throws BlockIOException {
        boolean synced = false;
        while (true) {
            lock.lock();
            try {
                if (refcounts.hasDirtyBlocks()) {
                    refcounts.writeDirtyBlocks();
                } else if (refcounts.hasDirtyTable()) {
                    // every block the table names was written (and synced, below) before this
                    refcounts.writeDirtyTable();
                } else {
                    return synced;
                }
            } finally {
                lock.unlock();
            }
            file.sync();
            synced = true;
        }
    }

    /**
     * The ordered write-back of {@link #flushLocked}, with the lock released for every sync, so
     * guest requests go on meanwhile: sync (data), refcounts ({@link #commitRefcountsUnlocked}),
     * then, when no L2 entry changed since the data sync (else it starts over), the dirty L2
     * tables, sync, the dirty L1 entries when no L2 entry changed since, sync, and the clusters
     * those L2 changes released. A guest that keeps changing the mapping may keep it from
     * finishing: after {@code attempts} it gives up and leaves the mapping to the next flush.
     * When no L2 or L1 entry is dirty and no cluster waits to be freed, there is nothing to order:
     * only the refcounts are committed, and one sync makes what was written durable. Every sync
     * of a file that a guest writes hard stalls its writes for a while in the kernel (tens of
     * milliseconds on ext4), so a bitmap store of a disk whose mapping did not change syncs twice
     * less.
     *
     * @return true when the mapping as of some moment during the call is durable
     */
    boolean writeBackUnlocked(int attempts) throws BlockIOException {
        if (readOnly) {
            return true;
        }
        boolean mappingDirty;
        lock.lock();
        try {
            mappingDirty = l2Cache.hasDirty() || l1.isDirty() || !pendingFrees.isEmpty();
        } finally {
            lock.unlock();
        }
        if (!mappingDirty) {
            if (!commitRefcountsSyncing()) {
                file.sync();
            }
            return true;
        }
        for (int attempt = 0; attempt < attempts; attempt++) {
            long seen;
            lock.lock();
            try {
                seen = mappingChanges;
            } finally {
                lock.unlock();
            }
            file.sync();
            commitRefcountsUnlocked();
            List<Long> frees;
            boolean l1Dirty;
            long written;
            lock.lock();
            try {
                // an entry set since the data sync may name a cluster whose data is not durable yet
                if (mappingChanges != seen) {
                    continue;
                }
                boolean lazy = header.header().features().lazyRefcounts() && header.header().version() >= 3;
                if (lazy && (l2Cache.hasDirty() || l1.isDirty()) && !header.header().features().has(FeatureBits.INCOMPAT_DIRTY)) {
                    header.writeFeatures(header.header().features().withIncompatible(FeatureBits.INCOMPAT_DIRTY, true));
                }
                for (L2Table t : l2Cache.dirtyTables()) {
                    file.writeFully(t.hostOffset(), t.encode());
                    t.markClean();
                }
                frees = new ArrayList<>(pendingFrees);
                pendingFrees.clear();
                l1Dirty = l1.isDirty();
                written = mappingChanges;
            } finally {
                lock.unlock();
            }
            file.sync();
            boolean l1Written = !l1Dirty;
            if (l1Dirty) {
                lock.lock();
                try {
                    // a new L2 table since the L2 write is not durable yet: its L1 entry must wait
                    if (mappingChanges == written) {
                        l1.writeDirty(file);
                        l1Written = true;
                    }
                } finally {
                    lock.unlock();
                }
                file.sync();
            }
            lock.lock();
            try {
                for (long host : frees) {
                    allocator.decrement(host);
                }
            } finally {
                lock.unlock();
            }
            return l1Written;
        }
        return false;
    }

    /** Writes everything, twice so that released clusters are counted free, and clears the dirty bit. */
    void closeLocked() throws BlockIOException {
        if (readOnly || corruption != null) {
            return;
        }
        flushLocked(true);
        flushLocked(true);
        FeatureBits f = header.header().features();
        if (f.has(FeatureBits.INCOMPAT_DIRTY)) {
            header.writeFeatures(f.withIncompatible(FeatureBits.INCOMPAT_DIRTY, false));
        }
    }

    /** Keeps the caches within their capacity; called between operations, when state is consistent. */
    void trimCachesLocked() throws BlockIOException {
        l2Cache.evictClean();
        refcounts.evictClean();
        if (l2Cache.overCapacity() || refcounts.overCapacity()) {
            flushLocked(true);
            l2Cache.evictClean();
            refcounts.evictClean();
        }
    }

    // ---- header -----------------------------------------------------------------------------

    /** Rewrites the header with new extensions and feature bits (for the bitmaps code). */
    public void writeHeaderLocked(List<HeaderExtension> extensions, FeatureBits features) throws BlockIOException {
        checkWritableLocked();
        header.rewrite(header.header().withExtensions(extensions).withFeatures(features));
    }

    /**
     * Rewrites the header as {@link #writeHeaderLocked} does but without its sync: the caller
     * syncs after releasing the lock ({@link Qcow2ExtensionStorage#syncUnlocked}), so guest I/O
     * never waits for it.
     */
    public void writeHeaderUnsyncedLocked(List<HeaderExtension> extensions, FeatureBits features)
            throws BlockIOException {
        checkWritableLocked();
        header.rewriteUnsynced(header.header().withExtensions(extensions).withFeatures(features));
    }

    // ---- corruption -------------------------------------------------------------------------

    void checkWritableLocked() throws BlockIOException {
        if (readOnly) {
            throw new BlockIOException(Errno.EROFS, file.path() + " is open read-only");
        }
        if (corruption != null) {
            throw new BlockIOException(Errno.EIO, file.path() + " is marked corrupt, writes refused: " + corruption);
        }
    }

    /**
     * Records damage: refuses writes from now on and, when open read-write, sets the corrupt bit
     * on disk as QEMU does. Returns the exception for the caller to throw.
     */
    BlockIOException corrupt(BlockIOException damage) {
        if (corruption == null) {
            corruption = damage.getMessage();
            if (!readOnly && header.header().version() >= 3) {
                try {
                    header.writeFeatures(header.header().features().withIncompatible(FeatureBits.INCOMPAT_CORRUPT, true));
                } catch (BlockIOException e) {
                    damage.addSuppressed(e);
                }
            }
        }
        return damage;
    }

    boolean isCorrupt() {
        return corruption != null;
    }
}
