package org.fleeced.tracking;

import org.fleeced.block.BlockIOException;

/**
 * Told when a persistent recorder stores its bitmaps, so that a write-ahead journal of the
 * checkpoints (which the image's bitmaps trail) can drop what the image now holds.
 *
 * <p>Order within a background store: {@link #beforeStore()} before the intent log's epoch
 * switch and the copies of the bitmaps; the store; {@link #stored(long)} once it is durable and
 * before the ended epoch is retired, so the intent marks cover every write since the journal's
 * base at every moment. The recorder holds its store lock across the calls; an observer must not
 * call back into the recorder.
 */
public interface StoreObserver {

    /** A store is about to copy the bitmaps; returns a token handed to {@link #stored(long)}. */
    long beforeStore();

    /** The store that {@link #beforeStore()} announced is durable in the image. */
    void stored(long token) throws BlockIOException;

    /** The recorder closed cleanly: the image holds every bitmap and nothing is left to recover. */
    void closedCleanly() throws BlockIOException;

    /** What a recorder's background store does itself: copy the bitmaps and make them durable. */
    @FunctionalInterface
    interface Store {
        void run() throws BlockIOException;
    }

    /**
     * One background store in the order above, for a recorder holding its store lock:
     * {@code observer}'s token (null: none), the switch of {@code log}'s epoch, {@code store},
     * {@link #stored}, then the ended epoch retired. A failure leaves the epoch pending: the next
     * switch returns it, and the next successful store retires it.
     */
    static void storeInOrder(StoreObserver observer, IntentLog log, Store store) throws BlockIOException {
        long token = observer == null ? 0 : observer.beforeStore();
        IntentLog.Epoch ended = log.switchEpoch();
        store.run();
        if (observer != null) {
            observer.stored(token);
        }
        ended.retire();
    }
}
