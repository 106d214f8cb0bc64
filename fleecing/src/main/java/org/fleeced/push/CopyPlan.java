package org.fleeced.push;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.fleeced.bitmaps.ByteRange;
import org.fleeced.bitmaps.FrozenBitmap;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Extent;
import org.fleeced.cbw.SnapshotAccess;

/**
 * What a push copies from one snapshot, computed once before the copy starts (the snapshot does
 * not change, so neither does its block status).
 *
 * <h2>Ranges</h2>
 * A full backup covers the whole disk; an incremental one the changes since its base, widened to
 * CBW clusters (the snapshot's readable set is kept in CBW clusters, so the widened ranges are
 * readable, and a target whose cluster divides the CBW cluster gets whole clusters).
 *
 * <h2>Extents</h2>
 * Each range is walked with the snapshot's block status and cut into CBW-cluster-aligned pieces:
 * a run of whole CBW clusters that reads as zeroes is one zero extent (written as zeroes, never
 * read); everything else is data, in pieces of at most {@code maxChunkBytes}. Keeping every edge
 * on a CBW cluster means the discard that follows each piece frees whole clusters: a partial
 * one would be rounded away and stay in the temp image until the job ends.
 *
 * <h2>Order</h2>
 * Zero extents first (they cost no I/O, and once discarded a guest write to them no longer copies
 * anything to the temp image), then data by offset.
 */
public final class CopyPlan {
    private final List<CopyExtent> extents;
    private final long dataBytes;

    private CopyPlan(List<CopyExtent> extents) {
        this.extents = List.copyOf(extents);
        this.dataBytes = extents.stream().filter(e -> !e.zero()).mapToLong(CopyExtent::length).sum();
    }

    /**
     * The plan for {@code snapshot}: of the whole disk when {@code changes} is null, else of the
     * changes it marks.
     */
    public static CopyPlan of(SnapshotAccess snapshot, FrozenBitmap changes, long maxChunkBytes)
            throws BlockIOException {
        long cluster = snapshot.clusterSize();
        if (maxChunkBytes < cluster || maxChunkBytes % cluster != 0) {
            throw new IllegalArgumentException("chunk " + maxChunkBytes + " is not a multiple of the CBW cluster " + cluster);
        }
        List<CopyExtent> zeroes = new ArrayList<>();
        List<CopyExtent> data = new ArrayList<>();
        for (ByteRange range : ranges(snapshot, changes)) {
            walk(snapshot, range, maxChunkBytes, zeroes, data);
        }
        List<CopyExtent> all = new ArrayList<>(zeroes);
        data.sort(Comparator.comparingLong(CopyExtent::offset));
        all.addAll(data);
        return new CopyPlan(all);
    }

    /** The extents in the order to start them. */
    public List<CopyExtent> extents() {
        return extents;
    }

    /** Bytes of data the plan reads and writes (zero extents excluded): a push's total. */
    public long dataBytes() {
        return dataBytes;
    }

    private static List<ByteRange> ranges(SnapshotAccess snapshot, FrozenBitmap changes) {
        long size = snapshot.size();
        if (size == 0) {
            return List.of();
        }
        if (changes == null) {
            return List.of(new ByteRange(0, size));
        }
        long cluster = snapshot.clusterSize();
        List<ByteRange> out = new ArrayList<>();
        for (ByteRange dirty : changes.dirtyExtents(0, size, Integer.MAX_VALUE)) {
            Alignment.Range wide = Alignment.outward(dirty.offset(), dirty.length(), cluster);
            long start = wide.offset();
            long end = Math.min(wide.end(), size);
            if (!out.isEmpty() && out.getLast().end() >= start) {
                ByteRange last = out.removeLast();
                out.add(new ByteRange(last.offset(), Math.max(end, last.end()) - last.offset()));
            } else {
                out.add(new ByteRange(start, end - start));
            }
        }
        return out;
    }

    /** Appends the aligned zero and data pieces of one range (which starts on a CBW cluster). */
    private static void walk(SnapshotAccess snapshot, ByteRange range, long maxChunkBytes, List<CopyExtent> zeroes,
            List<CopyExtent> data) throws BlockIOException {
        long cluster = snapshot.clusterSize();
        long size = snapshot.size();
        long dataFrom = range.offset();
        long pos = range.offset();
        while (pos < range.end()) {
            for (Extent e : snapshot.blockStatus(pos, range.end() - pos)) {
                if (e.zero()) {
                    long zeroStart = Alignment.alignUp(e.offset(), cluster);
                    long zeroEnd = e.end() == size ? size : Alignment.alignDown(e.end(), cluster);
                    if (zeroEnd > zeroStart) {
                        addData(dataFrom, zeroStart, maxChunkBytes, data);
                        addZero(zeroStart, zeroEnd, zeroes);
                        dataFrom = zeroEnd;
                    }
                }
                pos = e.end();
            }
        }
        addData(dataFrom, range.end(), maxChunkBytes, data);
    }

    private static void addZero(long start, long end, List<CopyExtent> zeroes) {
        if (!zeroes.isEmpty() && zeroes.getLast().end() == start) {
            CopyExtent last = zeroes.removeLast();
            zeroes.add(new CopyExtent(last.offset(), end - last.offset(), true));
        } else {
            zeroes.add(new CopyExtent(start, end - start, true));
        }
    }

    /** Data {@code [start, end)} in pieces that end on multiples of the chunk (so all but the edges are whole chunks). */
    private static void addData(long start, long end, long maxChunkBytes, List<CopyExtent> data) {
        long pos = start;
        while (pos < end) {
            long next = Math.min(end, Alignment.alignDown(pos, maxChunkBytes) + maxChunkBytes);
            data.add(new CopyExtent(pos, next - pos, false));
            pos = next;
        }
    }
}
