package org.fleeced.block;

import java.util.Objects;

/**
 * The one checked exception of the data path: an {@link Errno} and a message with context
 * (node, offset, length, cause).
 *
 * <p>Programmer errors (a caller breaking a {@link BlockNode} precondition) are
 * {@link IllegalArgumentException} or {@link IllegalStateException} instead, and never reach a
 * client as a data error.
 */
public class BlockIOException extends Exception {
    private final Errno errno;

    public BlockIOException(Errno errno, String message) {
        super(message);
        this.errno = Objects.requireNonNull(errno);
    }

    public BlockIOException(Errno errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = Objects.requireNonNull(errno);
    }

    public Errno errno() {
        return errno;
    }

    /** {@code "EIO: message"}: the form in logs and in NBD error chunks. */
    @Override
    public String toString() {
        return errno + ": " + getMessage();
    }
}
