package org.fleeced.cbw;

import java.nio.ByteBuffer;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Extent;

/**
 * The point-in-time view of a disk that a fleecing job exports (QEMU's snapshot-access API).
 * Readers read it, ask its block status, and discard what they have backed up so that the
 * temp space is freed. Ranges follow {@link org.fleeced.block.BlockNode}'s rules (inside the
 * disk, any byte alignment).
 *
 * <h2>Errors</h2>
 * <ul>
 *   <li>{@link org.fleeced.block.Errno#EACCES}: a read touched a byte outside the readable set
 *       (an incremental job exports only the changes since its base) or one the reader
 *       discarded.</li>
 *   <li>{@link org.fleeced.block.Errno#EIO}: the snapshot is broken (copy-before-write failed
 *       under {@link OnCbwError#BREAK_SNAPSHOT}); every read and block status fails from then
 *       on and the message names the root cause.</li>
 *   <li>{@link org.fleeced.block.Errno#ESHUTDOWN}: the job has ended.</li>
 * </ul>
 */
public interface SnapshotAccess {

    /** The disk's size in bytes. */
    long size();

    /** The CBW cluster: discards are rounded inward to it. */
    long clusterSize();

    /** Reads the disk as it was at the snapshot point. */
    void read(long offset, ByteBuffer dst) throws BlockIOException;

    /**
     * The allocation at the snapshot point, for a prefix of the range: what was data and what
     * read as zeroes, so readers can skip holes. A range the reader may not read is reported,
     * without failing, as data that is not zero (no HOLE, no ZERO flag): a client walking the
     * block status of a whole incremental export never fails and never mistakes an unreadable
     * range for zeroes; it learns which ranges to read from the exported dirty bitmap.
     */
    List<Extent> blockStatus(long offset, long length) throws BlockIOException;

    /**
     * Gives up the reader's claim on the whole CBW clusters inside the range: later reads of
     * them fail with EACCES, guest writes to them no longer copy, and their temp space is freed.
     * Partial clusters at the edges are left alone.
     */
    void discard(long offset, long length) throws BlockIOException;
}
