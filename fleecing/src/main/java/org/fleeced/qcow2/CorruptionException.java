package org.fleeced.qcow2;

import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * Damaged qcow2 metadata: always {@link Errno#EIO}. The node that catches one marks its image
 * corrupt (sets the corrupt bit when open read-write) and refuses further writes.
 */
public final class CorruptionException extends BlockIOException {
    public CorruptionException(String message) {
        super(Errno.EIO, "qcow2 metadata is damaged: " + message);
    }

    /**
     * The same damage found while opening the image: the image is invalid input (EUCLEAN), which
     * a caller refuses as such, rather than a device that failed.
     */
    public BlockIOException foundAtOpen() {
        return new BlockIOException(Errno.EUCLEAN, getMessage(), this);
    }
}
