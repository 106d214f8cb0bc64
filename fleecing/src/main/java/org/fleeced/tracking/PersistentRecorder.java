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
     * for across its syncs. The daemon calls it on a timer; {@link StoreAfterFlush} after a flush.
     */
    void checkpointToImage() throws BlockIOException;

    /** The image file the bitmaps belong to, for logs. */
    Path path();

    /**
     * The clean close: every bitmap stored as not in use, the intent log deleted. Guest writes
     * must have stopped; the image stays open (its owner closes it next). Later calls do nothing.
     */
    @Override
    void close() throws BlockIOException;
}
