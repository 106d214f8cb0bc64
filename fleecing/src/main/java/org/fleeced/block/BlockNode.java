package org.fleeced.block;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;

/**
 * A node of the block graph: an image driver (raw, qcow2) or a filter that owns a child node
 * (dirty tracking, copy-before-write, snapshot access). Offsets and lengths are guest bytes as
 * {@code long}.
 *
 * <h2>What callers guarantee</h2>
 * <ul>
 *   <li>Every range is inside the node: {@code 0 <= offset}, {@code offset + length <= size()},
 *       no overflow. Validating client input is the protocol edge's job (the NBD server); nodes
 *       do not re-validate, and {@link ContractCheckingNode} asserts these rules in tests.</li>
 *   <li>Offsets and lengths are multiples of {@link Capabilities#requestAlignment()}, except that
 *       a range may end at {@code size()} when the size itself is unaligned.</li>
 *   <li>read and write lengths are at most {@link Capabilities#maxRequestBytes()}; writeZeroes and
 *       discard may be of any length.</li>
 *   <li>Flags come only from what {@link #capabilities()} advertises; write and writeZeroes only
 *       when {@link Capabilities#canWrite()}, discard when canWrite or
 *       {@link Capabilities#canDiscard()}.</li>
 *   <li>A length of zero is allowed and is a no-op that succeeds.</li>
 *   <li>Calls may come concurrently from many threads (virtual threads, one per request), in
 *       any mix. A caller that needs an order between two of its own requests waits for the first
 *       to return before it issues the second.</li>
 *   <li>No call is made after {@link #close()} has begun.</li>
 * </ul>
 *
 * <h2>What implementations do</h2>
 * <ul>
 *   <li>A successful read fills exactly {@code dst.remaining()} bytes and advances
 *       {@code dst.position()} to its limit; a write consumes {@code src.remaining()} bytes. On
 *       failure the buffer positions are unspecified.</li>
 *   <li>A write that returned is visible to every later read on every thread. It is on stable
 *       storage once a later {@link #flush()} returns, or when it returns if it carried
 *       {@link WriteFlag#FUA}.</li>
 *   <li>writeZeroes makes the range read as zeroes and never touches bytes outside it. With
 *       {@link WriteFlag#MAY_UNMAP} it may deallocate. With {@link WriteFlag#FAST_ZERO} it either
 *       zeroes faster than a write would, or fails with {@link Errno#ENOTSUP} having changed
 *       nothing; without FAST_ZERO it never fails with ENOTSUP.</li>
 *   <li>discard is a hint: the range's contents are unspecified afterwards until rewritten. It
 *       never changes bytes outside the range, so a node that frees whole clusters rounds the
 *       range <em>inward</em>.</li>
 *   <li>blockStatus describes the range from {@code offset}: consecutive extents, the first
 *       starting at {@code offset}, each of length &gt; 0, none past {@code offset + length}. It
 *       never returns an empty list; it may describe less than asked (the caller asks again from
 *       where the answer ends). An extent marked {@code zero} reads as zeroes.</li>
 *   <li>Failures raise {@link BlockIOException}: {@link Errno#EIO} for I/O errors and damaged
 *       metadata, {@link Errno#ENOSPC} when storage or a quota is full, {@link Errno#EPERM} or
 *       {@link Errno#EROFS} for a write the node refuses, {@link Errno#EACCES} for a range a
 *       snapshot reader may not read, {@link Errno#ENOTSUP} only for FAST_ZERO,
 *       {@link Errno#ESHUTDOWN} while closing. Broken preconditions raise
 *       {@link IllegalArgumentException}, never a BlockIOException.</li>
 *   <li>close flushes what the node owns, releases it, and closes the child nodes it owns.</li>
 * </ul>
 */
public interface BlockNode extends AutoCloseable {

    /** The guest size in bytes. Fixed for the life of the node. */
    long size();

    /** What this node can do; constant for the life of the node. */
    Capabilities capabilities();

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}. */
    void read(long offset, ByteBuffer dst) throws BlockIOException;

    /**
     * What a {@link #read} of {@code [offset, offset + length)} would return, as a span of an open
     * file the caller sends and then releases; null when the node cannot answer that way (the
     * default: a node that transforms, checks, throttles or tracks reads, or whose bytes are not
     * one file range, must not inherit an answer from its child). The bytes are those of the file
     * when they are sent: a write that returns before then may show in them, as in a read that
     * ran concurrently with it.
     */
    default FileSpan fileSpan(long offset, int length) throws BlockIOException {
        return null;
    }

    /** Writes {@code src.remaining()} bytes at {@code offset}. Flags: {@link WriteFlag#FUA}. */
    void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException;

    /** Makes {@code [offset, offset + length)} read as zeroes. Flags: FUA, MAY_UNMAP, FAST_ZERO. */
    void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException;

    /** Hints that {@code [offset, offset + length)} is no longer needed. */
    void discard(long offset, long length) throws BlockIOException;

    /** Puts every write that has returned on stable storage. */
    void flush() throws BlockIOException;

    /** Describes the allocation of a prefix of {@code [offset, offset + length)}; see the class contract. */
    List<Extent> blockStatus(long offset, long length) throws BlockIOException;

    /** A short name for logs and error messages: the image path, or the filter and its child. */
    String describe();

    @Override
    void close() throws BlockIOException;
}
