package org.fleeced.tracking;

import java.nio.file.Path;
import org.fleeced.block.BlockIOException;

/**
 * A {@link ChangeRecorder} whose bitmaps outlive the process: the persistent bitmaps of a qcow2
 * image, or the bitmap sidecar of a raw image. Both mark every change in an {@link IntentLog}
 * first and store their bitmaps in the background; the disk that owns one asks it to store now
 * and then, and closes it cleanly before the image.
 */
public interface PersistentRecorder extends ChangeRecorder, AutoCloseable {

    /**
     * Stores every bitmap where it persists (still in use) and retires the intent log's previous
     * epoch, so that recovery after a crash starts from here. Holds no lock a guest write waits
     * for across its syncs. For callers that need the store durable when it returns.
     */
    void checkpointToImage() throws BlockIOException;

    /**
     * Stores as {@link #checkpointToImage()} does, but without a sync of the image the guest
     * writes: the store is complete after later syncs the guest asks for anyway (a qcow2 image's
     * bitmaps), or needs none of the image at all (a raw image's bitmap sidecar, synced on its
     * own). The daemon's timer and {@link StoreAfterFlush} call it.
     */
    void storeInBackground() throws BlockIOException;

    /** The image file the bitmaps belong to, for logs. */
    Path path();

    /**
     * The clean close: every bitmap stored as not in use, the intent log deleted. Guest writes
     * must have stopped; the image stays open (its owner closes it next). Later calls do nothing.
     */
    @Override
    void close() throws BlockIOException;
}
