package org.fleeced.cbw;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.fleeced.bitmaps.ByteRange;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;

/**
 * Copies old clusters from the source to the temp image before a guest change lands (QEMU's
 * block-copy state, reduced to what copy-before-write needs).
 *
 * <h2>Mechanism</h2>
 * For a guest change, every CBW cluster it touches that is still in the copy bitmap is either
 * <em>claimed</em> (no copy in flight: this call reserves quota and registers a future in the
 * in-flight table) or <em>joined</em> (a copy is in flight: this call waits for the same future).
 * Claiming and joining happen in one step under the state lock, so each cluster is copied at
 * most once. Claimed clusters are copied on virtual threads, one per contiguous run, so that a
 * caller can stop waiting when cbw-timeout elapses while the copy carries on.
 *
 * <p>A cluster that reads as zeroes at the snapshot point (the source's block status says so)
 * is marked done without writing the temp image: its sparse temp cluster reads as zeroes too.
 *
 * <p>When a copy completes, the cluster is marked done and leaves the copy bitmap, unless the
 * reader discarded it meanwhile: then its temp data is punched out again, so a discard during a
 * copy still frees the space. A failed copy leaves the cluster in the copy bitmap (the snapshot
 * still needs it) and fails every caller waiting for it with the same cause.
 *
 * <p>It does not retry, does not copy ahead of guest writes (no background job), and does not
 * decide the failure policy: it reports the failure, {@link CopyBeforeWriteFilter} applies it.
 */
final class BlockCopy {
    private static final System.Logger LOG = System.getLogger(BlockCopy.class.getName());
    private final CbwState state;

    BlockCopy(CbwState state) {
        this.state = state;
    }

    /**
     * Ensures every cluster of {@code [offset, offset + length)} the snapshot still needs is in the
     * temp image. Returns whether it had anything to wait for; throws the copy's failure, ENOSPC
     * when the quota cannot hold the clusters (claiming none), or EIO when {@code deadlineNanos}
     * (a {@link System#nanoTime()} instant, or 0 for none) passes first.
     */
    boolean copyBeforeWrite(long offset, long length, long deadlineNanos) throws BlockIOException {
        if (length == 0) {
            return false;
        }
        List<CompletableFuture<Void>> waits = new ArrayList<>();
        List<long[]> claimedRuns = new ArrayList<>();
        state.lock.lock();
        try {
            if (state.breakage.isBroken()) {
                return false;
            }
            claimOrJoinLocked(offset, length, waits, claimedRuns);
        } finally {
            state.lock.unlock();
        }
        for (long[] run : claimedRuns) {
            Thread.ofVirtual().name("cbw-copy-" + run[0]).start(() -> copyRun(run[0], run[1]));
        }
        awaitAll(waits, deadlineNanos);
        return !waits.isEmpty();
    }

    private void claimOrJoinLocked(long offset, long length, List<CompletableFuture<Void>> waits,
            List<long[]> claimedRuns) throws BlockIOException {
        Alignment.Range touched = Alignment.outward(offset, length, state.clusterBytes);
        long end = Math.min(touched.end(), state.sizeBytes);
        List<Long> toClaim = new ArrayList<>();
        long claimBytes = 0;
        for (ByteRange run : state.copy.dirtyExtents(touched.offset(), end - touched.offset(), Integer.MAX_VALUE)) {
            for (long c = state.clusterIndex(run.offset()); state.clusterStart(c) < run.end(); c++) {
                CompletableFuture<Void> inFlight = state.inFlightCopies.get(c);
                if (inFlight != null) {
                    waits.add(inFlight);
                } else {
                    toClaim.add(c);
                    claimBytes += state.clusterLength(c);
                }
            }
        }
        if (toClaim.isEmpty()) {
            return;
        }
        state.quota.reserve(claimBytes);
        long runStart = -1;
        long runCount = 0;
        for (long c : toClaim) {
            CompletableFuture<Void> copy = new CompletableFuture<>();
            state.inFlightCopies.put(c, copy);
            waits.add(copy);
            if (runStart >= 0 && c == runStart + runCount) {
                runCount++;
            } else {
                if (runStart >= 0) {
                    claimedRuns.add(new long[] {runStart, runCount});
                }
                runStart = c;
                runCount = 1;
            }
        }
        claimedRuns.add(new long[] {runStart, runCount});
    }

    /** Copies clusters {@code first .. first + count - 1}, completing each one's future as it goes. */
    private void copyRun(long first, long count) {
        ByteBuffer buffer = null;
        for (long c = first; c < first + count; c++) {
            try {
                long start = state.clusterStart(c);
                int len = (int) state.clusterLength(c);
                boolean wrote = false;
                if (!readsAsZeroes(start, len)) {
                    if (buffer == null) {
                        buffer = ByteBuffer.allocate((int) state.clusterBytes);
                    }
                    buffer.clear().limit(len);
                    state.source.read(start, buffer);
                    buffer.flip();
                    writeTemp(start, buffer);
                    wrote = true;
                }
                completed(c, wrote);
            } catch (BlockIOException | RuntimeException e) {
                failed(c, e);
            }
        }
    }

    private boolean readsAsZeroes(long start, long len) throws BlockIOException {
        long pos = start;
        while (pos < start + len) {
            List<Extent> extents = state.source.blockStatus(pos, start + len - pos);
            for (Extent e : extents) {
                if (!e.zero()) {
                    return false;
                }
            }
            pos = extents.getLast().end();
        }
        return true;
    }

    private void writeTemp(long start, ByteBuffer data) throws BlockIOException {
        try {
            state.temp.write(start, data, WriteFlag.NONE);
        } catch (BlockIOException e) {
            Errno errno = e.errno() == Errno.ENOSPC ? Errno.ENOSPC : Errno.EIO;
            throw new BlockIOException(errno, "cannot write temp image " + state.temp.describe() + " at " + start
                    + ": " + e.getMessage(), e);
        }
    }

    private void completed(long cluster, boolean wrote) {
        long start = state.clusterStart(cluster);
        long len = state.clusterLength(cluster);
        boolean discardedMeanwhile;
        CompletableFuture<Void> copy;
        state.lock.lock();
        try {
            copy = state.inFlightCopies.remove(cluster);
            discardedMeanwhile = !state.preserved.get(start);
            if (!discardedMeanwhile) {
                state.done.set(start, len);
                state.copy.reset(start, len);
                if (wrote) {
                    state.stored.set(start, len);
                }
            }
        } finally {
            state.lock.unlock();
        }
        if (!wrote || discardedMeanwhile) {
            state.quota.release(len);
        }
        state.clustersCopied.increment();
        copy.complete(null);
        if (wrote && discardedMeanwhile) {
            try {
                state.temp.discard(start, len);
            } catch (BlockIOException e) {
                // the data is unreachable (the reader discarded it); only its space is not freed
                LOG.log(System.Logger.Level.WARNING, "cannot free discarded temp cluster at {0} of {1}: {2}",
                        start, state.temp.describe(), e.toString());
            }
        }
    }

    private void failed(long cluster, Exception cause) {
        CompletableFuture<Void> copy;
        state.lock.lock();
        try {
            copy = state.inFlightCopies.remove(cluster);
        } finally {
            state.lock.unlock();
        }
        state.quota.release(state.clusterLength(cluster));
        if (copy != null) {
            copy.completeExceptionally(cause);
        }
    }

    private void awaitAll(List<CompletableFuture<Void>> waits, long deadlineNanos) throws BlockIOException {
        for (CompletableFuture<Void> copy : waits) {
            try {
                if (deadlineNanos == 0) {
                    copy.get();
                } else {
                    copy.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
                }
            } catch (TimeoutException e) {
                throw new BlockIOException(Errno.EIO, "copy-before-write timed out (cbw-timeout) copying to "
                        + state.temp.describe(), e);
            } catch (ExecutionException e) {
                throw asBlockError(e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BlockIOException(Errno.EIO, "interrupted while waiting for copy-before-write", e);
            }
        }
    }

    private static BlockIOException asBlockError(Throwable cause) {
        if (cause instanceof BlockIOException b) {
            return b;
        }
        return new BlockIOException(Errno.EIO, "copy-before-write failed: " + cause, cause);
    }
}
