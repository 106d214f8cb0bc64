package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * writeZeroes and discard: decides per guest cluster what to change, then changes it. The caller
 * holds an exclusive range registration over the clusters, so the plan stays valid while it is
 * carried out, and a FAST_ZERO request that would need data writes fails before anything changes.
 *
 * <p>Per cluster, for writeZeroes ("shows through" = a backing layer supplies this cluster):
 * <pre>
 *   reads as zero already (ZERO, or UNALLOCATED not showing through)  -> nothing
 *                                                           (MAY_UNMAP on a preallocated ZERO -> free it)
 *   whole cluster, v3:   NORMAL with COPIED, no MAY_UNMAP -> zero flag, keep the host cluster
 *                        otherwise                         -> zero flag, release the host cluster
 *   whole cluster, v2:   not showing through               -> unallocate, release the host cluster
 *                        showing through                   -> write zero data
 *   part of a cluster                                      -> write zero data (in place or COW)
 * </pre>
 * Nothing here ever allocates when the range already reads as zero and no backing layer shows
 * through: that keeps unaligned zero writes (O_DIRECT clients) from growing the image.
 *
 * <p>discard, on the clusters wholly inside the range: an allocated cluster is unallocated, or
 * set to the zero flag where a backing layer would otherwise show through (v2: left alone there);
 * its host cluster is released. Unallocated and zero clusters are left alone.
 */
final class ZeroWriter {
    private enum Action { NOTHING, ZERO_KEEP, ZERO_RELEASE, UNALLOCATE, WRITE_ZERO_DATA }

    private record Step(long guestOffset, int inCluster, int length, L2Entry entry, Action action) {
    }

    private final Qcow2Metadata metadata;
    private final Qcow2Layout layout;
    private final ClusterWriter writer;
    private final BackingView backing;
    private final long size;

    ZeroWriter(Qcow2Metadata metadata, ClusterWriter writer, BackingView backing, long size) {
        this.size = size;
        this.metadata = metadata;
        this.layout = metadata.layout();
        this.writer = writer;
        this.backing = backing;
    }

    void writeZeroes(long offset, long length, boolean mayUnmap, boolean fastZero) throws BlockIOException {
        List<Step> plan = planZeroes(offset, length, mayUnmap);
        if (fastZero && plan.stream().anyMatch(s -> s.action() == Action.WRITE_ZERO_DATA)) {
            throw new BlockIOException(Errno.ENOTSUP, "zeroing [" + offset + ", +" + length
                    + ") needs data writes (partial clusters over data or backing, or a version 2 image)");
        }
        apply(plan);
    }

    void discard(long offset, long length) throws BlockIOException {
        // Rounded inward to clusters; a range that reaches the end of the disk also covers the
        // disk's last cluster when that cluster is short.
        long end = offset + length;
        long start = Alignment.alignUp(offset, layout.clusterSize());
        long stop = end == size ? end : Alignment.alignDown(end, layout.clusterSize());
        if (stop <= start) {
            return;
        }
        List<Step> plan = new ArrayList<>();
        metadata.lock();
        try {
            metadata.checkWritableLocked();
            for (long g = start; g < stop; g += layout.clusterSize()) {
                L2Entry e = metadata.entryLocked(g);
                plan.add(new Step(g, 0, writer.clusterBytes(g), e, discardAction(g, e)));
            }
        } finally {
            metadata.unlock();
        }
        apply(plan);
    }

    private Action discardAction(long g, L2Entry e) {
        boolean allocated = e.hasHostCluster() || e.kind() == L2Entry.Kind.COMPRESSED;
        if (!allocated) {
            return Action.NOTHING;
        }
        if (!backing.showsThrough(g)) {
            return Action.UNALLOCATE;
        }
        return metadata.zeroFlagSupported() ? Action.ZERO_RELEASE : Action.NOTHING;
    }

    private List<Step> planZeroes(long offset, long length, boolean mayUnmap) throws BlockIOException {
        List<Step> plan = new ArrayList<>();
        metadata.lock();
        try {
            metadata.checkWritableLocked();
            long pos = offset;
            long end = offset + length;
            while (pos < end) {
                long g = layout.clusterStart(pos);
                int in = (int) (pos - g);
                int n = (int) Math.min(end - pos, writer.clusterBytes(g) - in);
                boolean whole = in == 0 && n == writer.clusterBytes(g);
                L2Entry e = metadata.entryLocked(g);
                plan.add(new Step(pos, in, n, e, zeroAction(g, e, whole, mayUnmap)));
                pos += n;
            }
        } finally {
            metadata.unlock();
        }
        return plan;
    }

    private Action zeroAction(long g, L2Entry e, boolean whole, boolean mayUnmap) {
        boolean readsZero = e.kind() == L2Entry.Kind.ZERO
                || (e.kind() == L2Entry.Kind.UNALLOCATED && !backing.showsThrough(g));
        if (readsZero) {
            return whole && mayUnmap && e.hasHostCluster() ? Action.ZERO_RELEASE : Action.NOTHING;
        }
        if (!whole) {
            return Action.WRITE_ZERO_DATA;
        }
        if (metadata.zeroFlagSupported()) {
            boolean keep = !mayUnmap && e.kind() == L2Entry.Kind.NORMAL && e.copied();
            return keep ? Action.ZERO_KEEP : Action.ZERO_RELEASE;
        }
        return backing.showsThrough(g) ? Action.WRITE_ZERO_DATA : Action.UNALLOCATE;
    }

    private void apply(List<Step> plan) throws BlockIOException {
        for (Step s : plan) {
            switch (s.action()) {
                case NOTHING -> { }
                case WRITE_ZERO_DATA -> writer.write(s.guestOffset(), ByteBuffer.allocate(s.length()));
                default -> applyMetadata(s);
            }
        }
        metadata.lock();
        try {
            metadata.trimCachesLocked();
        } finally {
            metadata.unlock();
        }
    }

    private void applyMetadata(Step s) throws BlockIOException {
        long g = layout.clusterStart(s.guestOffset());
        metadata.lock();
        try {
            switch (s.action()) {
                case ZERO_KEEP -> metadata.setEntryLocked(g, L2Entry.zero(s.entry().hostOffset(), true));
                case ZERO_RELEASE -> {
                    metadata.setEntryLocked(g, L2Entry.zero(0, false));
                    metadata.releaseLocked(s.entry());
                }
                case UNALLOCATE -> {
                    metadata.setEntryLocked(g, 0);
                    metadata.releaseLocked(s.entry());
                }
                default -> throw new IllegalStateException("not a metadata action: " + s.action());
            }
        } finally {
            metadata.unlock();
        }
    }
}
