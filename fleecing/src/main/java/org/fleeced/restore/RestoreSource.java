package org.fleeced.restore;

import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;

/**
 * Where a restore reads from: a read-only node the caller knows how to open (a local backup chain,
 * an NBD export; the daemon opens the latter, which this module cannot). Opened when the restore
 * starts or resumes, closed when it completes or the disk closes.
 */
public interface RestoreSource {
    /** The source as the restore state records it, so a restarted daemon can open it again. */
    String describe();

    /** Opens the source; its size must be the image's. */
    BlockNode open() throws BlockIOException;

    /** How a source is opened. */
    @FunctionalInterface
    interface Opener {
        BlockNode open() throws BlockIOException;
    }

    /** The source described as {@code description}, opened by {@code opener}. */
    static RestoreSource of(String description, Opener opener) {
        return new RestoreSource() {
            @Override
            public String describe() {
                return description;
            }

            @Override
            public BlockNode open() throws BlockIOException {
                return opener.open();
            }
        };
    }
}
