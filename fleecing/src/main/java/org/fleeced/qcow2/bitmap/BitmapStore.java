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
 * Stores a whole bitmap directory into the image, crash-safely. Every store writes new clusters
 * and switches to them with one header write; it never changes a cluster the image on disk
 * references:
 * <ol>
 *   <li>write each changed bitmap's data clusters and table into newly allocated clusters;</li>
 *   <li>write the new directory into newly allocated clusters;</li>
 *   <li>flush: data, then refcounts, durable (the driver's ordered flush) — the new clusters are
 *       counted before anything references them;</li>
 *   <li>rewrite the header: the bitmaps extension points at the new directory, autoclear bit 0
 *       set (clear when no bitmap is left), the {@link IntentLogLink} added or removed; synced;</li>
 *   <li>only now free the old directory and the replaced tables.</li>
 * </ol>
 * A crash before step 4 leaves the old directory in force (and the new clusters leaked: qemu-img
 * check exit 3 at worst); after it, the new one, with the old clusters leaked at worst.
 *
 * <p>Not thread-safe: the caller holds the metadata lock.
 */
final class BitmapStore {
    /** One directory entry to store: new bits for it, or (bits == null) the entry kept as it is. */
    record Item(BitmapDirectoryEntry entry, BitmapView bits) {
    }

    private final Qcow2ExtensionStorage storage;
    private final Qcow2Metadata metadata;
    private final BitmapTable tables;
    /** The directory the image's header points at now; null when there is none. */
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
     *
     * @param link the intent log link to record, or null to remove it
     * @return per item, the table now stored for it (the kept table for items without bits)
     */
    List<StoredTable> storeLocked(List<Item> items, List<StoredTable> keptTables, IntentLogLink link,
                                  List<StoredTable> replaced) throws BlockIOException {
        List<StoredTable> written = new ArrayList<>();
        List<BitmapDirectoryEntry> entries = new ArrayList<>();
        List<StoredTable> result = new ArrayList<>();
        BitmapsExtension next = null;
        long dirOffset = 0;
        try {
            for (int i = 0; i < items.size(); i++) {
                Item item = items.get(i);
                if (item.bits() == null) {
                    entries.add(item.entry());
                    result.add(keptTables.get(i));
                } else {
                    StoredTable t = tables.writeLocked(item.bits());
                    written.add(t);
                    entries.add(item.entry().withTable(t.tableOffset(), t.tableSize()));
                    result.add(t);
                }
            }
            if (!entries.isEmpty()) {
                ByteBuffer dir = BitmapDirectory.encode(entries);
                int dirBytes = dir.remaining();
                dirOffset = tables.allocateLocked((int) metadata.layout().clustersFor(dirBytes));
                storage.writeLocked(dirOffset, dir);
                next = new BitmapsExtension(entries.size(), dirBytes, dirOffset);
            }
            storage.flushLocked();
            writeHeaderLocked(next, link);
        } catch (BlockIOException | RuntimeException e) {
            try {
                for (StoredTable t : written) {
                    tables.free(t);
                }
                if (dirOffset != 0) {
                    tables.freeLocked(dirOffset, next.directoryBytes());
                }
            } catch (BlockIOException freeError) {
                e.addSuppressed(freeError);
            }
            throw e;
        }
        BitmapsExtension old = current;
        current = next;
        if (old != null) {
            tables.freeLocked(old.directoryOffset(), old.directoryBytes());
        }
        for (StoredTable t : replaced) {
            tables.free(t);
        }
        return result;
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
        metadata.writeHeaderLocked(extensions, h.features().withAutoclear(autoclear));
    }
}
