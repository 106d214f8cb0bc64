package org.fleeced.qcow2.bitmap;

/**
 * How {@link PersistentBitmaps} keeps bitmaps safe across crashes.
 *
 * @param regionBits               log2 of the intent log's region size; 0 picks
 *                                 {@link org.fleeced.tracking.IntentLog#defaultRegionBits}
 * @param checkpointAfterRegions   a flush stores the bitmaps into the image when at least this many
 *                                 regions were marked since the last store (bounding how much a
 *                                 crash adds to the bitmaps); 0 never stores on flush
 */
public record BitmapPersistenceOptions(int regionBits, long checkpointAfterRegions) {
    public BitmapPersistenceOptions {
        if (regionBits != 0 && (regionBits < 16 || regionBits > 40)) {
            throw new IllegalArgumentException("regionBits " + regionBits + " outside 16..40");
        }
        if (checkpointAfterRegions < 0) {
            throw new IllegalArgumentException("negative checkpointAfterRegions");
        }
    }

    /** Default regions; a flush stores the bitmaps once 256 regions were marked. */
    public static BitmapPersistenceOptions defaults() {
        return new BitmapPersistenceOptions(0, 256);
    }

    public BitmapPersistenceOptions withRegionBits(int bits) {
        return new BitmapPersistenceOptions(bits, checkpointAfterRegions);
    }

    public BitmapPersistenceOptions withCheckpointAfterRegions(long regions) {
        return new BitmapPersistenceOptions(regionBits, regions);
    }
}
