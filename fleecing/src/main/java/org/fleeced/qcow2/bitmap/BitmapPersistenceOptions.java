package org.fleeced.qcow2.bitmap;

/**
 * How {@link PersistentBitmaps} keeps bitmaps safe across crashes.
 *
 * @param regionBits               log2 of the intent log's region size; 0 picks
 *                                 {@link org.fleeced.tracking.IntentLog#defaultRegionBits}
 * @param checkpointAfterRegions   a flush stores the bitmaps into the image when at least this many
 *                                 regions were marked since the last store (bounding how much a
 *                                 crash adds to the bitmaps); 0 never stores on flush
 * @param guestSyncWaitMillis      how long a background store waits for a sync of the image by
 *                                 the guest ({@link PersistentBitmaps#storeInBackground()}) before
 *                                 the next store trigger syncs the image itself
 */
public record BitmapPersistenceOptions(int regionBits, long checkpointAfterRegions, long guestSyncWaitMillis) {
    public BitmapPersistenceOptions {
        if (regionBits != 0 && (regionBits < 16 || regionBits > 40)) {
            throw new IllegalArgumentException("regionBits " + regionBits + " outside 16..40");
        }
        if (checkpointAfterRegions < 0) {
            throw new IllegalArgumentException("negative checkpointAfterRegions");
        }
        if (guestSyncWaitMillis < 0) {
            throw new IllegalArgumentException("negative guestSyncWaitMillis");
        }
    }

    /**
     * Default regions; a flush stores the bitmaps once 256 regions were marked; a background
     * store waits 10 minutes for a guest's sync of the image (a guest that never flushes then
     * sees one store with syncs every 10 minutes at most, as the daemon's timer comes by).
     */
    public static BitmapPersistenceOptions defaults() {
        return new BitmapPersistenceOptions(0, 256, DEFAULT_GUEST_SYNC_WAIT_MILLIS);
    }

    static final long DEFAULT_GUEST_SYNC_WAIT_MILLIS = 10 * 60_000L;

    public BitmapPersistenceOptions withRegionBits(int bits) {
        return new BitmapPersistenceOptions(bits, checkpointAfterRegions, guestSyncWaitMillis);
    }

    public BitmapPersistenceOptions withCheckpointAfterRegions(long regions) {
        return new BitmapPersistenceOptions(regionBits, regions, guestSyncWaitMillis);
    }

    public BitmapPersistenceOptions withGuestSyncWaitMillis(long millis) {
        return new BitmapPersistenceOptions(regionBits, checkpointAfterRegions, millis);
    }
}
