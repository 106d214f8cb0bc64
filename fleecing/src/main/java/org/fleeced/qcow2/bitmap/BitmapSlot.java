package org.fleeced.qcow2.bitmap;

import java.nio.charset.StandardCharsets;
import org.fleeced.bitmaps.DirtyBitmap;

/**
 * One bitmap of an open image, as {@link PersistentBitmaps} holds it.
 *
 * <p>A usable bitmap has its bits in {@link #bitmap}; an inconsistent one has none and is kept in
 * the directory exactly as found ({@link #entry}, {@link #stored}) until it is removed.
 */
final class BitmapSlot {
    final String name;
    final int granularityBits;
    /** The bits; null for an inconsistent bitmap, which is never loaded. */
    final DirtyBitmap bitmap;
    final boolean persistent;
    /** RECOVERED or INCONSISTENT as found at open; null for a healthy bitmap (RECORDING/FROZEN). */
    final BitmapState fixedState;
    final StateReason reason;
    /** The directory entry as found on disk (its extra data and flags are kept); null when created in this session. */
    final BitmapDirectoryEntry entry;
    /** Where the bits are stored in the image now; null before the first store. Guarded by the store lock. */
    StoredTable stored;

    BitmapSlot(String name, int granularityBits, DirtyBitmap bitmap, boolean persistent, BitmapState fixedState,
               StateReason reason, BitmapDirectoryEntry entry, StoredTable stored) {
        this.name = name;
        this.granularityBits = granularityBits;
        this.bitmap = bitmap;
        this.persistent = persistent;
        this.fixedState = fixedState;
        this.reason = reason;
        this.entry = entry;
        this.stored = stored;
    }

    boolean inconsistent() {
        return fixedState == BitmapState.INCONSISTENT;
    }

    BitmapInfo info() {
        boolean enabled = bitmap != null ? bitmap.isEnabled() : entry != null && entry.auto();
        BitmapState state = fixedState != null ? fixedState : enabled ? BitmapState.RECORDING : BitmapState.FROZEN;
        return new BitmapInfo(name, 1L << granularityBits, enabled, persistent, state, reason);
    }

    /** The directory entry to store for this bitmap: flags from its state, table filled in by the store. */
    BitmapDirectoryEntry entryToStore(boolean inUse) {
        if (inconsistent()) {
            // Kept as found, but IN_USE: the store sets autoclear bit 0 again, and QEMU must not
            // then trust bits that fleeced does not trust.
            return reason == StateReason.UNSUPPORTED_EXTRA_DATA ? entry : entry.withFlags(entry.flags() | BitmapDirectoryEntry.IN_USE);
        }
        int kept = entry == null ? 0 : entry.flags() & BitmapDirectoryEntry.EXTRA_DATA_COMPATIBLE;
        int flags = kept | (bitmap.isEnabled() ? BitmapDirectoryEntry.AUTO : 0) | (inUse ? BitmapDirectoryEntry.IN_USE : 0);
        byte[] extra = entry == null ? new byte[0] : entry.extraData();
        byte[] rawName = entry == null ? name.getBytes(StandardCharsets.UTF_8) : entry.name();
        return new BitmapDirectoryEntry(0, 0, flags, BitmapDirectoryEntry.TYPE_DIRTY_TRACKING, granularityBits, rawName, extra);
    }
}
