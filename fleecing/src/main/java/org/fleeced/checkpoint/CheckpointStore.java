package org.fleeced.checkpoint;

import java.nio.file.Path;
import java.util.List;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.tracking.RecoveredIntents;
import org.fleeced.tracking.StoreObserver;

/**
 * Where the checkpoint bitmaps of one disk live: in memory, or persistent bitmaps beside the
 * data (the qcow2 image's bitmaps extension, or a raw image's bitmap sidecar), kept usable
 * across crashes by the intent log. {@link CheckpointSet} is the only caller, and calls it under
 * its own lock, so implementations need no locking of their own.
 *
 * <p>The store receives the live {@link DirtyBitmap} objects; they keep changing after
 * {@link #put} returns (the recording one with every guest write). A persistent store writes
 * their bits and its list of checkpoints in the background (a timer, a flush, the clean close),
 * never on the guest's path: {@link #create}, {@link #put} and {@link #remove} only change what
 * the next store writes. What makes a transition durable before it is acknowledged is the
 * checkpoint journal {@link CheckpointSet} keeps when {@link #durability()} asks for one.
 */
public interface CheckpointStore {

    /** A checkpoint as stored: its name, bitmap and state. */
    record Stored(String name, DirtyBitmap bitmap, CheckpointState state) {
    }

    /**
     * What a persistent store tells {@link CheckpointSet} to keep its journal by.
     *
     * @param journal   the journal's path beside the image
     * @param identity  the identity that ties the image's sidecars to it; a journal with another is not replayed
     * @param imageSize the disk's size
     * @param recovered the intent log's marks after an unclean stop, or null
     * @param storedSeq the newest journal entry the stored checkpoints reflect (replay skips up to
     *                  it); 0 when unknown (then every entry after the journal's BASE is replayed)
     */
    record Durability(Path journal, long identity, long imageSize, RecoveredIntents recovered, long storedSeq) {
    }

    /**
     * A new, empty, enabled bitmap for checkpoint {@code name}, which {@link #put} adds next. A
     * persistent store hands out the bitmap it will store, so both record the same bits.
     */
    default DirtyBitmap create(String name, long sizeBytes, long granularity) throws BlockIOException {
        return new DirtyBitmap(sizeBytes, granularity);
    }

    /** Every checkpoint, oldest first: after an unclean stop, as the image last held them, marks added. */
    List<Stored> loadAll() throws BlockIOException;

    /** Adds a checkpoint as the newest, or records a new state of an existing one. */
    void put(Stored checkpoint) throws BlockIOException;

    /** Forgets a checkpoint; nothing happens when it is unknown. */
    void remove(String name) throws BlockIOException;

    /** For a persistent store, what to journal its checkpoints by; null for one in memory. */
    default Durability durability() {
        return null;
    }

    /** Tells {@code observer} about every background store from now on (the journal's compaction). */
    default void observeStores(StoreObserver observer) {
    }

    /** Whether the checkpoints outlive the process. */
    default boolean persistent() {
        return durability() != null;
    }
}
