package org.fleeced.qcow2.bitmap;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.bitmaps.BitmapView;
import org.fleeced.block.BlockIOException;
import org.fleeced.qcow2.FeatureBits;
import org.fleeced.qcow2.HeaderExtension;
import org.fleeced.qcow2.Qcow2ExtensionStorage;
import org.fleeced.qcow2.Qcow2Header;
import org.fleeced.qcow2.Qcow2Metadata;

/**
 * Stores a whole bitmap directory into the image, crash-safely and without holding guest I/O.
 * Every store writes new clusters and switches to them with one header write; it never changes
 * a cluster the image on disk references:
 * <ol>
 *   <li>{@link #stage}: encode each changed bitmap into table entries and data clusters (no
 *       lock); allocate and reserve new clusters for them and for the new directory (metadata
 *       lock, in memory only); write the data clusters, tables and directory (no lock: the
 *       clusters are reserved, so nothing else writes or hands them out, and nothing references
 *       them); write the changed refcount blocks into the page cache (lock, no sync);</li>
 *   <li>once a sync of the image that started after step 1 completed (the new clusters and
 *       their refcounts are durable), rewrite the header (metadata lock for the write only): the
 *       bitmaps extension points at the new directory, autoclear bit 0 set (clear when no bitmap
 *       is left), the {@link IntentLogLink} added or removed; no sync;</li>
 *   <li>once a sync that started after step 2 completed (the new header is durable), free the
 *       old directory and the replaced tables (metadata lock, in memory): until then a crash may
 *       leave the old header, so they must not be reused.</li>
 * </ol>
 * {@link #advance} takes steps 2 and 3 without a sync of its own, as far as the syncs others
 * issued allow (a guest's flush syncs the image): a background store then stalls no guest write
 * with a sync. With {@code syncItself} it issues the syncs it needs, as {@link #store} does for
 * the stores that must be durable when they return (the clean close, a bitmap added or removed
 * at once): there it also writes the guest's mapping back ({@link Qcow2ExtensionStorage#writeBack}).
 * A refcount table entry changed since the last flush (a new refcount block, once per 2 GiB of
 * image growth with 64 KiB clusters) must be durable before the header names clusters it counts;
 * then step 2 commits the refcounts with syncs of its own.
 *
 * <p>A crash before step 2's header write is durable leaves the old directory in force (and the
 * new clusters leaked: qemu-img check exit 3 at worst); after it, the new one, with the old
 * clusters leaked at worst. Guest requests wait for the metadata lock only while clusters are
 * allocated, refcount blocks and the header are handed to the page cache, and clusters are
 * freed: no sync happens under it.
 *
 * <p>Not thread-safe: the caller serializes stores, and finishes a staged one before it stages
 * the next (and must not hold the metadata lock, or guest I/O waits for the whole store).
 */
final class BitmapStore {
    /** One directory entry to store: new bits for it, or (bits == null) the entry kept as it is. */
    record Item(BitmapDirectoryEntry entry, BitmapView bits) {
    }

    /** Where a staged store is: see the class comment. */
    enum Step {
        /** Step 1 done: waits for a sync to cover the new clusters and their refcounts. */
        WRITTEN,
        /** Step 2 done: the header names the new directory; waits for a sync to cover it. */
        HEADER_WRITTEN,
        /** Step 3 done: the old clusters are free. */
        DONE
    }

    /** A store on its way into the image, from {@link #stage} to {@link Step#DONE}. */
    static final class Staged {
        private final List<BitmapTable.Placed> placed;
        private final BitmapsExtension next;
        private final BitmapsExtension previous;
        private final IntentLogLink link;
        private final List<StoredTable> replaced;
        private final List<StoredTable> tables;
        private Step step = Step.WRITTEN;
        /** The sync ticket ({@link Qcow2ExtensionStorage#syncs}) the current step waits for. */
        private long ticket;

        private Staged(List<BitmapTable.Placed> placed, BitmapsExtension next, BitmapsExtension previous,
                       IntentLogLink link, List<StoredTable> replaced, List<StoredTable> tables) {
            this.placed = placed;
            this.next = next;
            this.previous = previous;
            this.link = link;
            this.replaced = List.copyOf(replaced);
            this.tables = tables;
        }

        /** Per item, the table stored for it (the kept table for items without bits). */
        List<StoredTable> tables() {
            return tables;
        }

        Step step() {
            return step;
        }

        /** The sync ticket the store waits for to take its next step. */
        long ticket() {
            return ticket;
        }
    }

    private final Qcow2ExtensionStorage storage;
    private final Qcow2Metadata metadata;
    private final BitmapTable tables;
    /** The directory the image's header points at now (maybe not durably yet); null when there is none. Guarded by the caller. */
    private BitmapsExtension current;

    BitmapStore(Qcow2ExtensionStorage storage, BitmapsExtension current) {
        this.storage = storage;
        this.metadata = storage.metadata();
        this.tables = new BitmapTable(storage);
        this.current = current;
    }

    /** Sets the directory found at open. */
    void setCurrent(BitmapsExtension found) {
        current = found;
    }

    BitmapTable tables() {
        return tables;
    }

    /**
     * Stores {@code items} as the whole directory and frees {@code replaced}, with syncs of its
     * own: durable when this returns. Takes the metadata lock itself, briefly.
     *
     * @param link the intent log link to record, or null to remove it
     * @return per item, the table now stored for it (the kept table for items without bits)
     */
    List<StoredTable> store(List<Item> items, List<StoredTable> keptTables, IntentLogLink link,
                            List<StoredTable> replaced) throws BlockIOException {
        Staged staged = stage(items, keptTables, link, replaced);
        try {
            advance(staged, true);
        } catch (BlockIOException | RuntimeException e) {
            abandon(staged, e);
            throw e;
        }
        return staged.tables();
    }

    /**
     * Step 1 of a store of {@code items} as the whole directory, which frees {@code replaced}
     * once it is durable: the new clusters written, nothing synced. On failure nothing is left
     * allocated.
     *
     * @param link the intent log link to record, or null to remove it
     */
    Staged stage(List<Item> items, List<StoredTable> keptTables, IntentLogLink link, List<StoredTable> replaced)
            throws BlockIOException {
        List<BitmapTable.Encoded> encoded = new ArrayList<>();
        for (Item item : items) {
            encoded.add(item.bits() == null ? null : tables.encode(item.bits()));
        }
        List<BitmapTable.Placed> placed = new ArrayList<>();
        List<StoredTable> result = new ArrayList<>();
        BitmapsExtension next = null;
        ByteBuffer dir = null;
        metadata.lock();
        try {
            List<BitmapDirectoryEntry> entries = new ArrayList<>();
            for (int i = 0; i < items.size(); i++) {
                if (encoded.get(i) == null) {
                    entries.add(items.get(i).entry());
                    result.add(keptTables.get(i));
                } else {
                    BitmapTable.Placed p = tables.placeLocked(encoded.get(i));
                    placed.add(p);
                    entries.add(items.get(i).entry().withTable(p.stored().tableOffset(), p.stored().tableSize()));
                    result.add(p.stored());
                }
            }
            if (!entries.isEmpty()) {
                dir = BitmapDirectory.encode(entries);
                int dirBytes = dir.remaining();
                next = new BitmapsExtension(entries.size(), dirBytes,
                        tables.allocateLocked((int) metadata.layout().clustersFor(dirBytes)));
            }
        } catch (BlockIOException | RuntimeException e) {
            freeNewLocked(placed, null, e);
            throw e;
        } finally {
            metadata.unlock();
        }
        Staged staged = new Staged(placed, next, current, link, replaced, result);
        try {
            for (BitmapTable.Placed p : placed) {
                tables.write(p);
            }
            if (next != null) {
                storage.writeReserved(next.directoryOffset(), dir);
            }
            metadata.lock();
            try {
                // the new clusters' refcounts, for the next sync to make durable with them
                storage.writeRefcountBlocksLocked();
            } finally {
                metadata.unlock();
            }
        } catch (BlockIOException | RuntimeException e) {
            abandon(staged, e);
            throw e;
        }
        staged.ticket = storage.syncs().ticket();
        return staged;
    }

    /**
     * Takes the staged store's next steps (see the class comment): without {@code syncItself}
     * only as far as completed syncs of the image allow, else with syncs of its own. On failure
     * the caller calls {@link #abandon}.
     *
     * @return true when the store is done; false when it waits for a sync covering {@link Staged#ticket()}
     */
    boolean advance(Staged staged, boolean syncItself) throws BlockIOException {
        while (true) {
            switch (staged.step) {
                case WRITTEN -> {
                    if (syncItself) {
                        // data, refcounts (the new clusters counted before the header names them), and the
                        // guest's own mapping with them, so a store also bounds what a crash of the process loses
                        storage.writeBack();
                    } else if (!storage.syncs().covers(staged.ticket)) {
                        return false;
                    } else if (refcountTableDirty()) {
                        storage.commitRefcounts();
                    }
                    metadata.lock();
                    try {
                        writeHeaderLocked(staged.next, staged.link);
                    } finally {
                        metadata.unlock();
                    }
                    current = staged.next;
                    staged.ticket = storage.syncs().ticket();
                    staged.step = Step.HEADER_WRITTEN;
                }
                case HEADER_WRITTEN -> {
                    if (syncItself) {
                        storage.syncUnlocked();
                    } else if (!storage.syncs().covers(staged.ticket)) {
                        return false;
                    }
                    // the old clusters may be reused only once no durable header references them
                    metadata.lock();
                    try {
                        if (staged.previous != null) {
                            tables.freeLocked(staged.previous.directoryOffset(), staged.previous.directoryBytes());
                        }
                        for (StoredTable t : staged.replaced) {
                            tables.free(t);
                        }
                    } finally {
                        metadata.unlock();
                    }
                    staged.step = Step.DONE;
                }
                case DONE -> {
                    return true;
                }
            }
        }
    }

    /**
     * Gives up a staged store that failed: before its header write, its new clusters are freed
     * (nothing references them); after it, nothing is freed (the header in the page cache names
     * the new clusters, a durable one may still name the old), and both leak at worst. A failure
     * to free is added to {@code cause}.
     */
    void abandon(Staged staged, Exception cause) {
        if (staged.step != Step.WRITTEN) {
            return;
        }
        staged.step = Step.DONE;
        metadata.lock();
        try {
            freeNewLocked(staged.placed, staged.next, cause);
        } finally {
            metadata.unlock();
        }
    }

    private boolean refcountTableDirty() {
        metadata.lock();
        try {
            return storage.refcountTableDirtyLocked();
        } finally {
            metadata.unlock();
        }
    }

    /** Frees the clusters a failed store allocated; a failure to free is added to {@code cause}. */
    private void freeNewLocked(List<BitmapTable.Placed> placed, BitmapsExtension directory, Exception cause) {
        try {
            for (BitmapTable.Placed p : placed) {
                tables.free(p.stored());
            }
            if (directory != null) {
                tables.freeLocked(directory.directoryOffset(), directory.directoryBytes());
            }
        } catch (BlockIOException freeError) {
            cause.addSuppressed(freeError);
        }
    }

    private void writeHeaderLocked(BitmapsExtension directory, IntentLogLink link) throws BlockIOException {
        Qcow2Header h = metadata.header();
        List<HeaderExtension> extensions = new ArrayList<>();
        for (HeaderExtension e : h.extensions()) {
            if (e.type() != HeaderExtension.BITMAPS && e.type() != IntentLogLink.EXTENSION_TYPE) {
                extensions.add(e);
            }
        }
        long autoclear = h.features().autoclear() & ~(FeatureBits.AUTOCLEAR_BITMAPS | IntentLogLink.AUTOCLEAR_BIT);
        if (directory != null) {
            extensions.add(directory.encode());
            autoclear |= FeatureBits.AUTOCLEAR_BITMAPS;
        }
        if (link != null) {
            extensions.add(link.encode());
            autoclear |= IntentLogLink.AUTOCLEAR_BIT;
        }
        metadata.writeHeaderUnsyncedLocked(extensions, h.features().withAutoclear(autoclear));
    }
}
