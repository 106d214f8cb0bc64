package org.fleeced.block;

/**
 * The error codes of the data path, named as POSIX names them.
 *
 * <p>Every failure of a {@link BlockNode} call carries one of these in a {@link BlockIOException}.
 * They are mapped to NBD error values in exactly one place (the NBD server) and to HTTP problem
 * responses in exactly one place (the REST API).
 */
public enum Errno {
    /** An I/O error, damaged metadata, or a broken snapshot. */
    EIO,
    /** The operation is not permitted on this node (for example a write to a read-only export). */
    EPERM,
    /** The node is read-only. Goes out as EPERM on NBD. */
    EROFS,
    /** A fleecing reader touched a range it may not read (outside the access bitmap, or discarded). */
    EACCES,
    /** No space left: the image's file system, a temp quota, or a write past the end. */
    ENOSPC,
    /**
     * A file larger than its file system (or fleeced's format limits) allows, such as an image
     * created with a size the file system refuses. Goes out as ENOSPC on NBD (nbdkit's rule).
     */
    EFBIG,
    /**
     * An image's header or metadata is invalid or damaged, found while opening it: bad input, not
     * a failing device (Linux's "structure needs cleaning"). Damage found later, by the data path,
     * is {@link #EIO}. Goes out as EIO on NBD.
     */
    EUCLEAN,
    /** An argument is invalid (unaligned, out of range, unknown flag). */
    EINVAL,
    /** The operation is not supported, for example a fast zero that would not be fast. */
    ENOTSUP,
    /** A request is too large to be answered as asked (NBD: a DF read that cannot be one chunk). */
    EOVERFLOW,
    /** The node is closing or closed. */
    ESHUTDOWN,
    /** Memory for the request could not be had. */
    ENOMEM
}
