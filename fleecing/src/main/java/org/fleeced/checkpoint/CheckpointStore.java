package org.fleeced.checkpoint;

import java.util.List;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;

/**
 * Where the checkpoint bitmaps of one disk live: in memory, or persistent bitmaps in the qcow2
 * image (bitmaps extension, with the sidecar intent log). {@link CheckpointSet} is the only
 * caller, and calls it under its own lock, so implementations need no locking of their own.
 *
 * <p>The store receives the live {@link DirtyBitmap} objects; they keep changing after
 * {@link #put} returns (the recording one with every guest write), and a persistent store writes
 * their bits when it flushes or closes, as QEMU does on clean close.
 */
public interface CheckpointStore {

    /** A checkpoint as stored: its name, bitmap and state. */
    record Stored(String name, DirtyBitmap bitmap, CheckpointState state) {
    }

    /**
     * A new, empty, enabled bitmap for checkpoint {@code name}, which {@link #put} adds next. A
     * persistent store hands out the bitmap it will store, so both record the same bits.
     */
    default DirtyBitmap create(String name, long sizeBytes, long granularity) throws BlockIOException {
        return new DirtyBitmap(sizeBytes, granularity);
    }

    /** Every checkpoint, oldest first. */
    List<Stored> loadAll() throws BlockIOException;

    /** Adds a checkpoint as the newest, or records a new state of an existing one. */
    void put(Stored checkpoint) throws BlockIOException;

    /** Forgets a checkpoint; nothing happens when it is unknown. */
    void remove(String name) throws BlockIOException;

    /**
     * Starts a window in which {@link #create} and {@link #put} need not reach stable storage
     * before they return, because guest I/O is held back meanwhile (a fleecing job's start) and
     * must not wait for fsyncs. A store may defer past the window only what a crash cannot turn
     * into a lost change (while a checkpoint records, the store's copy of it covers every change)
     * and stores that with its next store; anything else it stores in {@link #endDeferral()},
     * once guest I/O goes on. The in-memory store ignores both calls.
     */
    default void beginDeferral() {
    }

    /** Ends the window of {@link #beginDeferral()}. */
    default void endDeferral() throws BlockIOException {
    }

    /** Whether the checkpoints outlive the process. */
    default boolean persistent() {
        return true;
    }
}
