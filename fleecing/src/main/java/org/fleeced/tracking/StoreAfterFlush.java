package org.fleeced.tracking;

import java.util.concurrent.atomic.AtomicBoolean;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * The store a guest flush starts once enough regions are marked: on a thread of its own, at most
 * one at a time. The flush does not wait for it, since the guest's data is durable without it;
 * the store only bounds what a crash would add to the bitmaps.
 */
public final class StoreAfterFlush {
    private static final System.Logger LOG = System.getLogger(StoreAfterFlush.class.getName());

    private final PersistentRecorder bitmaps;
    private final AtomicBoolean running = new AtomicBoolean();

    public StoreAfterFlush(PersistentRecorder bitmaps) {
        this.bitmaps = bitmaps;
    }

    /** Starts the store unless one is running already. */
    public void start() {
        if (!running.compareAndSet(false, true)) {
            return;
        }
        Thread.ofVirtual().name("bitmap-store-after-flush").start(() -> {
            try {
                bitmaps.storeInBackground();
            } catch (BlockIOException e) {
                if (e.errno() != Errno.ESHUTDOWN) {
                    LOG.log(System.Logger.Level.WARNING, "storing the bitmaps of {0} after a flush failed: {1}", bitmaps.path(), e);
                }
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "storing the bitmaps of {0} after a flush failed: {1}", bitmaps.path(), e);
            } finally {
                running.set(false);
            }
        });
    }
}
