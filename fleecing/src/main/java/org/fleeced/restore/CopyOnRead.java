package org.fleeced.restore;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;
import org.fleeced.bitmaps.ByteRange;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.InFlightRanges;
import org.fleeced.block.WriteFlag;

/**
 * The state of one restore, shared by every {@link CopyOnReadFilter} built over the image (a
 * disk rebuilds its filters when its stack changes) and by the {@link RestoreStream}: the source,
 * the image being filled, which clusters are restored, and the clusters being filled now.
 *
 * <h2>State per cluster</h2>
 * <ul>
 *   <li><b>unrestored</b>: the image does not hold the cluster's data; reads come from the source.</li>
 *   <li><b>filling</b>: a fill or a guest write holds it exclusively in {@code busy}; every other
 *       fill or write of it waits, so a cluster is fetched at most once and a fetch never lands
 *       over a guest write.</li>
 *   <li><b>restored</b>: the image holds it; reads, writes and block status go to the image only.
 *       A cluster never leaves this state.</li>
 * </ul>
 * A fill copies data runs and writes zero runs (the source's block status) as zeroes, without
 * allocating data. Source failures are EIO naming the source; nothing is marked then.
 */
public final class CopyOnRead {
    /** The largest piece a fill reads from the source at once. */
    static final int MAX_FILL_BYTES = 1 << 20;

    /** The open source; replaced by {@link #reopenSource} after a failure (a dropped connection). */
    volatile BlockNode source;
    /** Opens the source again, or null when it cannot be reopened. */
    private final RestoreSource opener;
    final BlockNode image;
    final RestoredClusters restored;
    final long clusterBytes;
    /** Ranges (whole clusters) being filled or written over unrestored clusters. */
    private final InFlightRanges busy = new InFlightRanges();
    /** Bytes fetched from the source by anyone. */
    final LongAdder fetchedBytes = new LongAdder();

    public CopyOnRead(BlockNode source, BlockNode image, RestoredClusters restored) {
        this(source, null, image, restored);
    }

    /** A restore whose source {@code opener} can open again after a failure. */
    CopyOnRead(BlockNode source, RestoreSource opener, BlockNode image, RestoredClusters restored) {
        if (source.size() != image.size() || restored.sizeBytes() != image.size()) {
            throw new IllegalArgumentException("source " + source.size() + ", image " + image.size()
                    + " and restore state " + restored.sizeBytes() + " bytes differ");
        }
        this.source = source;
        this.opener = opener;
        this.image = image;
        this.restored = restored;
        this.clusterBytes = restored.clusterBytes();
    }

    public RestoredClusters restored() {
        return restored;
    }

    public BlockNode source() {
        return source;
    }

    /**
     * Makes every cluster of {@code [offset, offset + length)} restored, fetching those that are
     * not (the stream's fill). The marks are durable at the next persist, not now.
     */
    void fill(long offset, long length) throws BlockIOException {
        Alignment.Range whole = clusters(offset, length);
        if (!restored.anyUnrestored(whole.offset(), whole.length())) {
            return;
        }
        try (InFlightRanges.Ticket held = hold(whole)) {
            fillLocked(whole.offset(), whole.end(), null);
        }
    }

    /**
     * The guest's read: fills the unrestored clusters it touches and answers from the bytes it
     * fetched (restored parts from the image), and returns only once the marks of every cluster it
     * read are durable ({@link RestoredClusters#commit}), so that nothing the guest has seen is
     * fetched again after a crash.
     */
    void read(long offset, ByteBuffer dst) throws BlockIOException {
        long length = dst.remaining();
        if (restored.isDurable(offset, length)) {
            image.read(offset, dst);
            return;
        }
        Alignment.Range whole = clusters(offset, length);
        if (restored.anyUnrestored(whole.offset(), whole.length())) {
            try (InFlightRanges.Ticket held = hold(whole)) {
                fillLocked(whole.offset(), whole.end(), new ReadWindow(offset, dst));
            }
            dst.position(dst.limit());
        } else {
            image.read(offset, dst);
        }
        restored.commit(image, offset, length);
    }

    /** An action that changes the image over a range (a guest write, zeroing). */
    @FunctionalInterface
    interface Change {
        void apply() throws BlockIOException;
    }

    /**
     * Applies a guest change to {@code [offset, offset + length)}: the untouched parts of the
     * unrestored clusters at its two ends are fetched first, then the change lands, then every
     * cluster it touched is restored.
     */
    void change(long offset, long length, Change change) throws BlockIOException {
        Alignment.Range whole = clusters(offset, length);
        if (!restored.anyUnrestored(whole.offset(), whole.length())) {
            change.apply();
            return;
        }
        try (InFlightRanges.Ticket held = hold(whole)) {
            long end = offset + length;
            if (offset != whole.offset()) {
                fillLocked(whole.offset(), Math.min(whole.offset() + clusterBytes, whole.end()), null);
            }
            if (end != whole.end()) {
                fillLocked(Math.max(whole.end() - clusterBytes, whole.offset()), whole.end(), null);
            }
            change.apply();
            restored.mark(whole.offset(), whole.length());
        }
    }

    /** The merged block status: the image's where restored, the source's (one layer deeper) elsewhere. */
    List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        long end = offset + length;
        if (restored.isRestored(offset)) {
            long next = restored.nextUnrestored(offset, end);
            return image.blockStatus(offset, (next < 0 ? end : next) - offset);
        }
        long next = restored.nextRestored(offset, end);
        List<Extent> extents;
        try {
            extents = source.blockStatus(offset, (next < 0 ? end : next) - offset);
        } catch (BlockIOException e) {
            throw sourceFailed("block status", offset, e);
        }
        return extents.stream().map(e -> new Extent(e.offset(), e.length(), e.data(), e.zero(),
                e.depth() == 0 ? 0 : e.depth() + 1)).toList();
    }

    /**
     * Closes the source and opens it again (the stream calls this before a retry, so that a dropped
     * NBD connection comes back); a failure leaves the old one, to fail again and be retried.
     */
    synchronized void reopenSource() throws BlockIOException {
        if (opener == null) {
            return;
        }
        BlockNode fresh;
        try {
            fresh = ZeroTailSource.fitted(opener.open(), image.size());
        } catch (BlockIOException e) {
            throw e.errno() == Errno.EINVAL ? new BlockIOException(Errno.EIO, e.getMessage() + " (it changed)", e) : e;
        }
        BlockNode old = source;
        source = fresh;
        try {
            old.close();
        } catch (BlockIOException e) {
            // the old connection is gone anyway; only its close failed
        }
    }

    private InFlightRanges.Ticket hold(Alignment.Range whole) throws BlockIOException {
        try {
            return busy.registerExclusive(whole.offset(), whole.length());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIOException(Errno.EIO, "interrupted while waiting for a restore fill", e);
        }
    }

    /**
     * Copies the unrestored clusters of {@code [from, to)} (cluster-aligned, held) from the source;
     * with a {@code window}, also serves its bytes: fetched ones as fetched, restored ones from the image.
     */
    private void fillLocked(long from, long to, ReadWindow window) throws BlockIOException {
        long pos = from;
        while (pos < to) {
            long start = restored.nextUnrestored(pos, to);
            if (window != null) {
                window.readImage(image, pos, start < 0 ? to : start);
            }
            if (start < 0) {
                return;
            }
            long stop = restored.nextRestored(start, to);
            long runEnd = Math.min(stop < 0 ? to : stop, start + MAX_FILL_BYTES);
            copy(start, runEnd - start, window);
            restored.mark(start, runEnd - start);
            pos = runEnd;
        }
    }

    private void copy(long offset, long length, ReadWindow window) throws BlockIOException {
        long pos = offset;
        while (pos < offset + length) {
            List<Extent> extents;
            try {
                extents = source.blockStatus(pos, offset + length - pos);
            } catch (BlockIOException e) {
                throw sourceFailed("block status", pos, e);
            }
            for (Extent e : extents) {
                if (e.zero()) {
                    image.writeZeroes(e.offset(), e.length(), Set.of(WriteFlag.MAY_UNMAP));
                    if (window != null) {
                        window.zero(e.offset(), e.end());
                    }
                } else {
                    ByteBuffer data = ByteBuffer.allocate((int) e.length());
                    try {
                        source.read(e.offset(), data);
                    } catch (BlockIOException ex) {
                        throw sourceFailed("read", e.offset(), ex);
                    }
                    fetchedBytes.add(e.length());
                    data.flip();
                    if (window != null) {
                        window.put(e.offset(), data);
                    }
                    image.write(e.offset(), data, WriteFlag.NONE);
                }
            }
            pos = extents.getLast().end();
        }
    }

    private Alignment.Range clusters(long offset, long length) {
        Alignment.Range out = Alignment.outward(offset, length, clusterBytes);
        return new Alignment.Range(out.offset(), Math.min(out.end(), image.size()) - out.offset());
    }

    private BlockIOException sourceFailed(String what, long offset, BlockIOException e) {
        return new BlockIOException(Errno.EIO, "restore source " + source.describe() + ": " + what + " at " + offset
                + " failed: " + e, e);
    }

    /** The runs of {@code [offset, offset + length)} that are restored, for discard. */
    List<ByteRange> restoredRuns(long offset, long length) {
        return restored.restoredRuns(offset, length);
    }
}
