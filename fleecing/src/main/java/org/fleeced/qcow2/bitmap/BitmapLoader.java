package org.fleeced.qcow2.bitmap;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.qcow2.FeatureBits;
import org.fleeced.qcow2.HeaderExtension;
import org.fleeced.qcow2.Qcow2ExtensionStorage;
import org.fleeced.qcow2.Qcow2Header;
import org.fleeced.tracking.IntentLogReader;
import org.fleeced.tracking.RecoveredIntents;

/**
 * Reads the bitmaps of an image at open and decides what each one is worth.
 *
 * <p>Per directory entry, first match wins:
 * <pre>
 *   extra data not understood, not extra_data_compatible  -> INCONSISTENT (kept as is, never loaded)
 *   extension not consistent (autoclear bit 0 clear)       -> INCONSISTENT
 *   IN_USE, listed as unvouched by the intent log link     -> INCONSISTENT (it was before)
 *   IN_USE, linked intent log recovered                    -> RECOVERED: stored bits + marked regions
 *   IN_USE otherwise                                       -> INCONSISTENT (reason says why)
 *   not IN_USE                                             -> loaded; RECORDING (AUTO) or FROZEN
 * </pre>
 * Every entry and every table entry is checked first ({@link BitmapDirectory},
 * {@link BitmapTable}); damage is EIO and the open fails.
 *
 * <p>Needs the image's metadata lock.
 */
final class BitmapLoader {
    /** What the loader found. {@code intents} is null when the sidecar does not vouch for the image. */
    record Loaded(List<BitmapSlot> slots, BitmapsExtension extension, IntentLogLink link, RecoveredIntents intents) {
    }

    private final Qcow2ExtensionStorage storage;
    private final BitmapTable tables;

    BitmapLoader(Qcow2ExtensionStorage storage, BitmapTable tables) {
        this.storage = storage;
        this.tables = tables;
    }

    Loaded loadLocked(Path sidecar) throws BlockIOException {
        Qcow2Header header = storage.metadata().header();
        long diskSize = header.size();
        IntentLogLink link = IntentLogLink.find(header);
        RecoveredIntents intents = link == null ? null : IntentLogReader.recover(sidecar, diskSize, link.identity());
        HeaderExtension ext = header.extension(HeaderExtension.BITMAPS);
        if (ext == null) {
            return new Loaded(new ArrayList<>(), null, link, intents);
        }
        int clusterSize = header.clusterSize();
        long hostEnd = storage.hostEndLocked();
        BitmapsExtension extension = BitmapsExtension.parse(ext, clusterSize, hostEnd);
        ByteBuffer dir = ByteBuffer.allocate((int) extension.directoryBytes());
        storage.readLocked(extension.directoryOffset(), dir);
        // The directory is protected like the tables (BitmapTable#readLocked); a store frees both.
        storage.metadata().reserveMetadataLocked(extension.directoryOffset(), extension.directoryBytes());
        List<BitmapDirectoryEntry> entries = BitmapDirectory.parse(dir.flip(), extension.count(), diskSize, clusterSize, hostEnd);
        boolean consistent = (header.features().autoclear() & FeatureBits.AUTOCLEAR_BITMAPS) != 0;
        List<BitmapSlot> slots = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            slots.add(slot(entries.get(i), i, consistent, link, intents, header, diskSize));
        }
        return new Loaded(slots, extension, link, intents);
    }

    private BitmapSlot slot(BitmapDirectoryEntry e, int index, boolean consistent, IntentLogLink link,
                            RecoveredIntents intents, Qcow2Header header, long diskSize) throws BlockIOException {
        StateReason inconsistent = null;
        if (!e.usable()) {
            inconsistent = StateReason.UNSUPPORTED_EXTRA_DATA;
        } else if (!consistent) {
            inconsistent = StateReason.EXTENSION_NOT_CONSISTENT;
        } else if (e.inUse() && link != null && !link.vouchesFor(index)) {
            inconsistent = StateReason.INCONSISTENT_BEFORE;
        } else if (e.inUse() && intents == null) {
            inconsistent = link != null ? StateReason.INTENT_LOG_UNUSABLE
                    : IntentLogLink.present(header) ? StateReason.MODIFIED_BY_OTHER_WRITER : StateReason.NO_INTENT_LOG;
        }
        if (inconsistent != null) {
            StoredTable stored = tables.readLocked(e, null);
            return new BitmapSlot(e.nameString(), e.granularityBits(), null, true, BitmapState.INCONSISTENT,
                    inconsistent, e, stored);
        }
        DirtyBitmap bits = new DirtyBitmap(diskSize, e.granularity());
        StoredTable stored = tables.readLocked(e, bits);
        bits.setEnabled(e.auto());
        if (!e.inUse()) {
            return new BitmapSlot(e.nameString(), e.granularityBits(), bits, true, null, null, e, stored);
        }
        intents.forEachRange(bits::set);
        return new BitmapSlot(e.nameString(), e.granularityBits(), bits, true, BitmapState.RECOVERED,
                StateReason.RECOVERED_FROM_INTENT_LOG, e, stored);
    }
}
