package org.fleeced.cbw;

import java.nio.ByteBuffer;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;

/**
 * The guest side of a fleecing job: saves the old contents of a cluster to the temp image
 * before a guest change overwrites it (DESIGN.md section 5, QEMU's copy-before-write filter).
 * Its place in a disk's stack, and the reader's path beside it, are drawn in
 * {@link org.fleeced.block}.
 *
 * <h2>Guest changes</h2>
 * write, writeZeroes and discard all change data, so all three take the same path: copy every
 * CBW cluster they touch that the snapshot still needs ({@link BlockCopy}: once per cluster, a
 * second writer waits for the same copy), then wait for the reader's overlapping frozen reads,
 * then forward the change. Reads, block status and flush pass straight through.
 *
 * <h2>Failures</h2>
 * A copy that fails (temp I/O error, full quota) or outlasts cbw-timeout is handled by
 * {@link OnCbwError}: BREAK_SNAPSHOT records the root cause once, stops all copying and lets
 * the change through; BREAK_GUEST_WRITE fails the change with EIO (ENOSPC when space ran out)
 * and leaves the snapshot intact. Either way the change still waits for frozen reads, which are
 * short and never wait for guest writes.
 *
 * <p>Closing the filter closes the image below it, as every filter does; a job that removes the
 * filter from a live disk simply stops using it. The temp image belongs to the job.
 */
public final class CopyBeforeWriteFilter extends FilterNode {
    private final CbwState state;
    private final BlockCopy blockCopy;
    private final CbwSettings settings;

    public CopyBeforeWriteFilter(CbwState state, CbwSettings settings) {
        super(state.source);
        this.state = state;
        this.blockCopy = new BlockCopy(state);
        this.settings = settings;
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        beforeChange(offset, src.remaining());
        child.write(offset, src, flags);
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        beforeChange(offset, length);
        child.writeZeroes(offset, length, flags);
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        beforeChange(offset, length);
        child.discard(offset, length);
    }

    @Override
    public String describe() {
        return "copy-before-write(" + child.describe() + " -> " + state.temp.describe() + ")";
    }

    private void beforeChange(long offset, long length) throws BlockIOException {
        if (length == 0) {
            return;
        }
        long start = System.nanoTime();
        try {
            long deadline = settings.hasTimeout() ? start + settings.timeoutNanos() : 0;
            if (blockCopy.copyBeforeWrite(offset, length, deadline)) {
                state.writesDelayedByCbw.increment();
                state.cbwDelayNanos.add(System.nanoTime() - start);
            }
        } catch (BlockIOException e) {
            state.writesDelayedByCbw.increment();
            state.cbwDelayNanos.add(System.nanoTime() - start);
            if (settings.onCbwError() == OnCbwError.BREAK_GUEST_WRITE) {
                Errno errno = e.errno() == Errno.ENOSPC ? Errno.ENOSPC : Errno.EIO;
                throw new BlockIOException(errno, "copy-before-write failed, so the write was refused "
                        + "(on-cbw-error=break-guest-write): " + e.getMessage(), e);
            }
            state.breakage.breakWith(e);
        }
        waitForFrozenReads(offset, length);
    }

    private void waitForFrozenReads(long offset, long length) throws BlockIOException {
        if (!state.frozenReads.anyOverlap(offset, length)) {
            return;
        }
        long start = System.nanoTime();
        try {
            state.frozenReads.waitForOverlapping(offset, length);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIOException(Errno.EIO, "interrupted while waiting for snapshot reads", e);
        }
        state.writesDelayedByReads.increment();
        state.readDelayNanos.add(System.nanoTime() - start);
    }
}
