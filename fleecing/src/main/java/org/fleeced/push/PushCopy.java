package org.fleeced.push;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.WriteFlag;
import org.fleeced.cbw.SnapshotAccess;

/**
 * Copies a {@link CopyPlan} from a snapshot into a target node.
 *
 * <h2>Mechanism</h2>
 * {@code copiesInFlight} virtual threads take the plan's extents in order from one shared index;
 * each extent is either read from the snapshot and written to the target, or written as zeroes
 * ({@link WriteFlag#MAY_UNMAP}: a qcow2 target leaves or makes zero clusters, a raw file a hole, an
 * NBD export gets WRITE_ZEROES). Once the target has an extent, the extent is discarded from the
 * snapshot: its old data leaves the temp image, and guest writes to it stop copying.
 *
 * <p>The first failure (of the snapshot, the target or a {@link #cancel}) stops every worker
 * before its next extent; {@link #run} throws it once all have stopped, so no request is in
 * flight on the target when the caller closes it. The copy does not flush the target: whoever
 * owns the target flushes it before calling the backup good.
 *
 * <p>Thread safety: {@link #run} once; the counters and {@link #cancel} from any thread.
 */
public final class PushCopy {
    private final SnapshotAccess source;
    private final BlockNode target;
    private final CopyPlan plan;
    private final int copiesInFlight;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicLong doneBytes = new AtomicLong();
    private final AtomicLong bytesWritten = new AtomicLong();
    /** The first failure; set once, stops every worker. */
    private final AtomicReference<BlockIOException> failure = new AtomicReference<>();

    public PushCopy(SnapshotAccess source, BlockNode target, CopyPlan plan, int copiesInFlight) {
        if (copiesInFlight < 1) {
            throw new IllegalArgumentException("copiesInFlight must be at least 1, not " + copiesInFlight);
        }
        if (source.size() != target.size()) {
            throw new IllegalArgumentException("the target " + target.describe() + " has " + target.size()
                    + " bytes, the disk " + source.size());
        }
        this.source = source;
        this.target = target;
        this.plan = plan;
        this.copiesInFlight = copiesInFlight;
    }

    /** Copies the whole plan, or throws the first failure once every worker has stopped. */
    public void run() throws BlockIOException {
        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < copiesInFlight; i++) {
            workers.add(Thread.ofVirtual().name("push-copy-" + i).start(this::work));
        }
        try {
            for (Thread w : workers) {
                w.join();
            }
        } catch (InterruptedException e) {
            cancel(new BlockIOException(Errno.EIO, "the push was interrupted", e));
            Thread.currentThread().interrupt();
            workers.forEach(Thread::interrupt);
        }
        BlockIOException cause = failure.get();
        if (cause != null) {
            throw cause;
        }
    }

    /** Stops the copy with {@code cause}, unless it already failed; {@link #run} throws it. */
    public void cancel(BlockIOException cause) {
        failure.compareAndSet(null, cause);
    }

    /** Data bytes copied so far (zero extents not counted). */
    public long doneBytes() {
        return doneBytes.get();
    }

    /** Data bytes the plan copies in all. */
    public long totalBytes() {
        return plan.dataBytes();
    }

    /** Bytes sent to the target in write requests (zeroes written without data not counted). */
    public long bytesWritten() {
        return bytesWritten.get();
    }

    private void work() {
        ByteBuffer buffer = null;
        List<CopyExtent> extents = plan.extents();
        while (failure.get() == null) {
            int i = next.getAndIncrement();
            if (i >= extents.size()) {
                return;
            }
            CopyExtent e = extents.get(i);
            try {
                if (e.zero()) {
                    target.writeZeroes(e.offset(), e.length(), WriteFlag.of(WriteFlag.MAY_UNMAP));
                } else {
                    if (buffer == null || buffer.capacity() < e.length()) {
                        buffer = ByteBuffer.allocate((int) e.length());
                    }
                    copyData(e, buffer);
                }
                source.discard(e.offset(), e.length());
                if (!e.zero()) {
                    doneBytes.addAndGet(e.length());
                }
            } catch (BlockIOException x) {
                cancel(x);
            } catch (RuntimeException x) {
                cancel(new BlockIOException(Errno.EIO, "push of [" + e.offset() + ", +" + e.length() + ") failed: " + x, x));
            }
        }
    }

    private void copyData(CopyExtent e, ByteBuffer buffer) throws BlockIOException {
        buffer.clear().limit((int) e.length());
        source.read(e.offset(), buffer);
        buffer.flip();
        target.write(e.offset(), buffer, WriteFlag.NONE);
        bytesWritten.addAndGet(e.length());
    }
}
