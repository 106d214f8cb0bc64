package org.fleeced.cbw;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.bitmaps.RangeStatus;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.InFlightRanges;

/**
 * The reader side of one disk's fleecing job: the {@link SnapshotAccess} over the state the
 * copy-before-write filter keeps (see {@link CbwState} for the per-cluster states).
 *
 * <h2>Mechanism</h2>
 * A read is cut into pieces at every copied/uncopied boundary, using the done bitmap's exact run
 * lengths (QEMU 7.2 got this wrong: its {@code hbitmap_status} called a run that started copied
 * and ended uncopied all uncopied, so large reads returned new data). For each piece, under the
 * state lock: fail if broken or not readable, then register the piece either as a frozen read of
 * the source (not copied: guest writes to it wait until the piece is read) or as a temp read
 * (copied: a reader discard waits before punching it). The piece is read with the lock
 * released. Reads never wait for guest writes.
 *
 * <p>Block status follows the same split: the source's status for uncopied clusters (as a
 * frozen read, so that a guest write cannot change it mid-query), the temp image's for copied
 * ones; unreadable ranges are reported as non-zero data (see {@link SnapshotAccess}).
 *
 * <p>A discard is rounded inward to CBW clusters (a partial last cluster counts when the range
 * reaches the end of the disk); it clears access and copy, then waits for temp reads of the
 * range and punches it out of the temp image.
 */
public final class FleeceSnapshot implements SnapshotAccess {
    /** Bounds the work of one block status call; callers ask again from where it ends. */
    private static final int MAX_EXTENTS = 1024;

    private final CbwState state;
    /** Set once when the job ends; checked under {@code state.lock} with each piece. */
    private volatile boolean shutDown;

    public FleeceSnapshot(CbwState state) {
        this.state = state;
    }

    @Override
    public long size() {
        return state.sizeBytes;
    }

    @Override
    public long clusterSize() {
        return state.clusterBytes;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        read(offset, dst, state.access);
    }

    /**
     * The whole point-in-time view the job keeps, for the daemon's own reads (a checksum of the
     * snapshot, issue 15): readable where the job preserved the data (see {@link CbwState}: the
     * whole disk for a job that keeps it, otherwise what the reader may read), EACCES elsewhere.
     * Its reads are not counted as the reader's, and it cannot discard.
     */
    public SnapshotAccess wholeView() {
        return new SnapshotAccess() {
            @Override
            public long size() {
                return state.sizeBytes;
            }

            @Override
            public long clusterSize() {
                return state.clusterBytes;
            }

            @Override
            public void read(long offset, ByteBuffer dst) throws BlockIOException {
                FleeceSnapshot.this.read(offset, dst, state.preserved);
            }

            @Override
            public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
                return FleeceSnapshot.this.blockStatus(offset, length, state.preserved);
            }

            @Override
            public void discard(long offset, long length) throws BlockIOException {
                throw new BlockIOException(Errno.EPERM, "the whole view of a snapshot is not discarded");
            }
        };
    }

    /**
     * The first byte of the point-in-time view that the job does not keep, or -1 when it keeps all
     * of it: so a caller can refuse a whole-snapshot read before it reads anything. An incremental
     * job that does not keep its whole snapshot keeps only its changes; a reader discard gives up
     * what it discards.
     */
    public long firstUnkeptByte() {
        state.lock.lock();
        try {
            return state.preserved.nextClean(0, state.sizeBytes);
        } finally {
            state.lock.unlock();
        }
    }

    private void read(long offset, ByteBuffer dst, DirtyBitmap readable) throws BlockIOException {
        long end = offset + dst.remaining();
        long pos = offset;
        while (pos < end) {
            Piece piece = startPiece(pos, end, readable);
            try (InFlightRanges.Ticket ticket = piece.ticket) {
                ByteBuffer slice = dst.slice(dst.position(), (int) piece.length);
                piece.node.read(pos, slice);
            }
            dst.position(dst.position() + (int) piece.length);
            pos += piece.length;
        }
        state.breakage.check();
        if (readable == state.access) {
            state.bytesRead.add(end - offset);
        }
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        return blockStatus(offset, length, state.access);
    }

    private List<Extent> blockStatus(long offset, long length, DirtyBitmap readableSet) throws BlockIOException {
        long end = offset + length;
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        while (pos < end && out.size() < MAX_EXTENTS) {
            RangeStatus readable = readableSet.status(pos, end - pos);
            if (!readable.dirty()) {
                checkUsable();
                append(out, new Extent(pos, readable.length(), true, false, 1));
                pos += readable.length();
                continue;
            }
            Piece piece = startPiece(pos, pos + readable.length(), readableSet);
            List<Extent> extents;
            try (InFlightRanges.Ticket ticket = piece.ticket) {
                extents = piece.node.blockStatus(pos, piece.length);
            }
            for (Extent e : extents) {
                append(out, e);
            }
            pos = extents.getLast().end();
        }
        if (length > 0) {
            state.breakage.check();
        }
        return out;
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        long start = org.fleeced.block.Alignment.alignUp(offset, state.clusterBytes);
        long end = offset + length == state.sizeBytes
                ? state.sizeBytes
                : org.fleeced.block.Alignment.alignDown(offset + length, state.clusterBytes);
        if (end <= start) {
            return;
        }
        long freed;
        state.lock.lock();
        try {
            if (shutDown) {
                throw ended();
            }
            state.access.reset(start, end - start);
            state.preserved.reset(start, end - start);
            state.copy.reset(start, end - start);
            long before = state.stored.dirtyBytes();
            state.stored.reset(start, end - start);
            freed = before - state.stored.dirtyBytes();
        } finally {
            state.lock.unlock();
        }
        awaitTempReads(start, end - start);
        state.temp.discard(start, end - start);
        state.quota.release(freed);
        state.bytesDiscarded.add(end - start);
    }

    /**
     * Ends the view: later calls fail with ESHUTDOWN; returns once every read in progress is over,
     * so the job may close the temp image.
     */
    public void shutDown() throws BlockIOException {
        state.lock.lock();
        try {
            shutDown = true;
        } finally {
            state.lock.unlock();
        }
        try {
            state.frozenReads.waitForOverlapping(0, state.sizeBytes);
            state.tempReads.waitForOverlapping(0, state.sizeBytes);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIOException(Errno.EIO, "interrupted while waiting for snapshot reads to end", e);
        }
    }

    /** One run of a read: where it comes from and the ticket that keeps it consistent. */
    private record Piece(BlockNode node, long length, InFlightRanges.Ticket ticket) {
    }

    /** Checks and registers the longest piece from {@code pos} on one side of a copied boundary. */
    private Piece startPiece(long pos, long end, DirtyBitmap readable) throws BlockIOException {
        state.lock.lock();
        try {
            checkUsable();
            long unreadable = readable.nextClean(pos, end);
            if (unreadable >= 0) {
                throw new BlockIOException(Errno.EACCES, "the snapshot of " + state.source.describe()
                        + " may not be read at " + unreadable + ": outside the job's changes, or discarded");
            }
            RangeStatus copied = state.done.status(pos, end - pos);
            if (copied.dirty()) {
                return new Piece(state.temp, copied.length(), state.tempReads.register(pos, copied.length()));
            }
            return new Piece(state.source, copied.length(), state.frozenReads.register(pos, copied.length()));
        } finally {
            state.lock.unlock();
        }
    }

    private void checkUsable() throws BlockIOException {
        if (shutDown) {
            throw ended();
        }
        state.breakage.check();
    }

    private BlockIOException ended() {
        return new BlockIOException(Errno.ESHUTDOWN, "the fleecing job of " + state.source.describe() + " has ended");
    }

    private void awaitTempReads(long offset, long length) throws BlockIOException {
        try {
            state.tempReads.waitForOverlapping(offset, length);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIOException(Errno.EIO, "interrupted while waiting for snapshot reads", e);
        }
    }

    private static void append(List<Extent> out, Extent e) {
        if (!out.isEmpty() && out.getLast().sameStatus(e) && out.getLast().end() == e.offset()) {
            Extent last = out.removeLast();
            out.add(last.withRange(last.offset(), last.length() + e.length()));
        } else {
            out.add(e);
        }
    }
}
