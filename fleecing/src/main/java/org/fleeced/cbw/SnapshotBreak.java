package org.fleeced.cbw;

import java.util.concurrent.atomic.AtomicReference;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * Whether a snapshot is broken, and the root cause: the first failure wins and is never
 * replaced, so a reader sees the temp I/O error, full quota or timeout that broke it, not a
 * follow-on error (PVE's "improve error when copy-before-write fails").
 *
 * <p>Lock-free: one atomic reference, set at most once.
 */
final class SnapshotBreak {
    /** The failure that broke the snapshot; null while intact. Set once. */
    private final AtomicReference<BlockIOException> cause = new AtomicReference<>();

    /** Breaks the snapshot unless it is broken already; true when this call broke it. */
    boolean breakWith(BlockIOException rootCause) {
        return cause.compareAndSet(null, rootCause);
    }

    boolean isBroken() {
        return cause.get() != null;
    }

    /** The root cause, or null while intact. */
    BlockIOException cause() {
        return cause.get();
    }

    /** Throws EIO naming the root cause when broken. */
    void check() throws BlockIOException {
        BlockIOException root = cause.get();
        if (root != null) {
            throw new BlockIOException(Errno.EIO, "the snapshot is broken: copy-before-write failed ("
                    + root + ")", root);
        }
    }
}
