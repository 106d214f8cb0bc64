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
 *   <li>encode each changed bitmap into table entries and data clusters (no lock);</li>
 *   <li>allocate and reserve new clusters for them and for the new directory (metadata lock,
 *       in memory only);</li>
 *   <li>write the data clusters, tables and directory (no lock: the clusters are reserved, so
 *       nothing else writes or hands them out, and nothing references them);</li>
 *   <li>write back ({@link Qcow2ExtensionStorage#writeBack}: data synced, then refcounts, then
 *       the guest's L2 and L1 changes, the lock only for the writes into the page cache, never
 *       across a sync) — the new clusters are counted before anything references them;</li>
 *   <li>rewrite the header (metadata lock for the write only): the bitmaps extension points at
 *       the new directory, autoclear bit 0 set (clear when no bitmap is left), the
 *       {@link IntentLogLink} added or removed; then sync without the lock;</li>
 *   <li>only now free the old directory and the replaced tables (metadata lock, in memory).</li>
 * </ol>
 * A crash before step 5 leaves the old directory in force (and the new clusters leaked: qemu-img
 * check exit 3 at worst); after it, the new one, with the old clusters leaked at worst. Guest
 * requests wait for the metadata lock only while clusters are allocated, refcount blocks and the
 * header are handed to the page cache, and clusters are freed: no sync happens under it.
 *
 * <p>Not thread-safe: the caller serializes stores (and must not hold the metadata lock, or
 * guest I/O waits for the whole store after all).
 */
final class BitmapStore {
    /** One directory entry to store: new bits for it, or (bits == null) the entry kept as it is. */
    record Item(BitmapDirectoryEntry entry, BitmapView bits) {
    }

    private final Qcow2ExtensionStorage storage;
    private final Qcow2Metadata metadata;
    private final BitmapTable tables;
    /** The directory the image's header points at now; null when there is none. Guarded by the caller. */
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
     * Stores {@code items} as the whole directory and frees {@code replaced} once it is durable.
     * Takes the metadata lock itself, briefly; see the class comment.
     *
     * @param link the intent log link to record, or null to remove it
     * @return per item, the table now stored for it (the kept table for items without bits)
     */
    List<StoredTable> store(List<Item> items, List<StoredTable> keptTables, IntentLogLink link,
                            List<StoredTable> replaced) throws BlockIOException {
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
        try {
            for (BitmapTable.Placed p : placed) {
                tables.write(p);
            }
            if (next != null) {
                storage.writeReserved(next.directoryOffset(), dir);
            }
            // data, refcounts (the new clusters counted before the header names them), and the
            // guest's own mapping with them, so a store also bounds what a crash of the process loses
            storage.writeBack();
            metadata.lock();
            try {
                writeHeaderLocked(next, link);
            } finally {
                metadata.unlock();
            }
        } catch (BlockIOException | RuntimeException e) {
            metadata.lock();
            try {
                freeNewLocked(placed, next, e);
            } finally {
                metadata.unlock();
            }
            throw e;
        }
        BitmapsExtension old = current;
        current = next;
        // the old clusters may be reused only once no durable header references them
        storage.syncUnlocked();
        metadata.lock();
        try {
            if (old != null) {
                tables.freeLocked(old.directoryOffset(), old.directoryBytes());
            }
            for (StoredTable t : replaced) {
                tables.free(t);
            }
        } finally {
            metadata.unlock();
        }
        return result;
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
