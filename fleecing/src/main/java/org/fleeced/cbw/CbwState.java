package org.fleeced.cbw;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import org.fleeced.bitmaps.BitmapView;
import org.fleeced.bitmaps.ByteRange;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.InFlightRanges;

/**
 * The per-cluster state of one disk's snapshot, shared by the guest side
 * ({@link CopyBeforeWriteFilter}, {@link BlockCopy}) and the reader side
 * ({@link FleeceSnapshot}), as QEMU's {@code BDRVCopyBeforeWriteState}. All bitmaps are at the
 * CBW cluster granularity.
 *
 * <p>Per cluster (A = access, C = copy, D = done):
 * <pre>
 *   A C !D   not yet copied: reads come from the source (as frozen reads); a guest write copies first
 *   A !C D   copied: reads come from the temp image; guest writes pass
 *   A C + in-flight copy: a guest write waits for that copy; reads still come from the source
 *   !A !C    outside the snapshot or discarded by the reader: reads fail with EACCES, writes pass
 * </pre>
 * P (preserved) is what the job keeps of the point-in-time view: A, or the whole disk for an
 * incremental job that keeps its whole snapshot (so that the daemon itself can checksum all of
 * it, issue 15); there a cluster may be P and C without A: copied before a guest write, never
 * readable by the reader. A discard clears A, C and P.
 * Invariants: C and D are never both set; C implies P; A implies P; stored implies D and P.
 *
 * <p>Lock: {@code lock} guards every compound step: a reader's "check D, then register a frozen
 * read" and a copy's "set D" are atomic with respect to each other, which is what makes a guest
 * write wait for every source read that started before the cluster was marked done. The bitmaps
 * and range lists are thread-safe on their own; single queries of them need no lock.
 * Lock order: {@code lock} before the range lists' own locks.
 */
public final class CbwState {
    final BlockNode source;
    final BlockNode temp;
    final long clusterBytes;
    final long sizeBytes;
    final TempQuota quota;
    final SnapshotBreak breakage = new SnapshotBreak();
    final ReentrantLock lock = new ReentrantLock();
    /** A: what the reader may read. Only ever cleared (by reader discard). */
    final DirtyBitmap access;
    /** P: what the job keeps of the snapshot: A, or the whole disk. Only ever cleared (by reader discard). */
    final DirtyBitmap preserved;
    /** C: clusters whose old data must be copied before a guest change lands. Cleared when copied or discarded. */
    final DirtyBitmap copy;
    /** D: clusters whose old data is in the temp image. Set when a copy completes, under {@code lock}. */
    final DirtyBitmap done;
    /** Clusters whose copy wrote data that the temp image still holds (charged to the quota). */
    final DirtyBitmap stored;
    /** Cluster index to the copy in progress for it; a second writer waits for the same copy. Guarded by {@code lock}. */
    final Map<Long, CompletableFuture<Void>> inFlightCopies = new HashMap<>();
    /** Reader reads (and block status queries) in progress on the source: guest changes wait for them. */
    final InFlightRanges frozenReads = new InFlightRanges();
    /** Reader reads in progress on the temp image: a reader discard waits for them before punching. */
    final InFlightRanges tempReads = new InFlightRanges();

    final LongAdder clustersCopied = new LongAdder();
    final LongAdder bytesRead = new LongAdder();
    final LongAdder bytesDiscarded = new LongAdder();
    final LongAdder writesDelayedByCbw = new LongAdder();
    final LongAdder cbwDelayNanos = new LongAdder();
    final LongAdder writesDelayedByReads = new LongAdder();
    final LongAdder readDelayNanos = new LongAdder();

    /**
     * @param readable the bytes the reader may read at any granularity (null: the whole disk);
     *                 a CBW cluster is readable when it touches a readable byte
     * @param keepWhole keep the whole snapshot (copy before write everywhere), not only what is readable
     */
    public CbwState(BlockNode source, BlockNode temp, long clusterBytes, TempQuota quota, BitmapView readable,
            boolean keepWhole) {
        this.source = source;
        this.temp = temp;
        this.clusterBytes = clusterBytes;
        this.sizeBytes = source.size();
        this.quota = quota;
        this.access = new DirtyBitmap(sizeBytes, clusterBytes);
        this.preserved = new DirtyBitmap(sizeBytes, clusterBytes);
        this.copy = new DirtyBitmap(sizeBytes, clusterBytes);
        this.done = new DirtyBitmap(sizeBytes, clusterBytes);
        this.stored = new DirtyBitmap(sizeBytes, clusterBytes);
        if (readable == null) {
            access.setAll();
        } else {
            for (ByteRange r : readable.dirtyExtents(0, sizeBytes, Integer.MAX_VALUE)) {
                access.set(r.offset(), r.length());
            }
        }
        if (keepWhole) {
            preserved.setAll();
        } else {
            preserved.merge(access);
        }
        copy.merge(preserved);
    }

    public CbwState(BlockNode source, BlockNode temp, long clusterBytes, TempQuota quota, BitmapView readable) {
        this(source, temp, clusterBytes, quota, readable, false);
    }

    long clusterIndex(long offset) {
        return offset / clusterBytes;
    }

    long clusterStart(long index) {
        return index * clusterBytes;
    }

    /** Bytes in cluster {@code index}: less than a cluster for a partial last one. */
    long clusterLength(long index) {
        return Math.min(clusterBytes, sizeBytes - clusterStart(index));
    }

    /** The failure that broke this snapshot (the first one), or null while it is intact. */
    public BlockIOException breakCause() {
        return breakage.cause();
    }

    public FleeceStats stats() {
        return new FleeceStats(clustersCopied.sum(), stored.dirtyBytes(), access.dirtyBytes(), bytesRead.sum(),
                bytesDiscarded.sum(), writesDelayedByCbw.sum(), cbwDelayNanos.sum(), writesDelayedByReads.sum(),
                readDelayNanos.sum());
    }
}
