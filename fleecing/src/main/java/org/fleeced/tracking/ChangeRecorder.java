package org.fleeced.tracking;

import org.fleeced.block.BlockIOException;

/**
 * Where a dirty-tracking filter ({@link org.fleeced.tracking.DirtyTrackingFilter}) reports
 * guest changes: the dirty bitmaps of one disk, and whatever makes them survive a crash.
 *
 * <p>The filter calls {@link #recordChange} <em>before</em> it forwards the change, from many
 * threads at once; when it returns, the range is recorded in every enabled bitmap and, for a
 * crash-safe recorder, durably in the intent log. A failure there fails the guest request, which
 * is then not forwarded: a change that could not be recorded must not happen.
 */
public interface ChangeRecorder {

    /** Records that {@code [offset, offset + length)} is about to change. */
    void recordChange(long offset, long length) throws BlockIOException;

    /** Called after the disk below was flushed: a chance to store the bitmaps too. */
    default void afterFlush() throws BlockIOException {
    }
}
