package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.file.PositionalFile;

/**
 * Guest offset to host cluster, through the L1 table and the cached L2 tables (qcow2 spec
 * "Cluster mapping"): lookups, runs of like clusters, and entry updates that allocate an L2 table
 * when the slot has none. Every entry read from disk is checked before use: one that points past
 * the end of the file, or an L2 table over the header, L1 or refcount table, is corruption.
 *
 * <p>Every L2 table the L1 table points to is registered as a metadata region when this is built,
 * so no data write or allocation lands on one.
 *
 * <p>Not thread-safe: every call needs the {@link Qcow2Metadata} lock, which owns this object and
 * the tables it is given. Writing dirty tables back is the owner's job ({@link Qcow2Metadata#flushLocked}).
 */
final class GuestMapping {
    private final Qcow2Layout layout;
    private final PositionalFile file;
    private final L1Table l1;
    private final TableCache<L2Table> l2Cache;
    private final MetadataRegions regions;
    private final ClusterAllocator allocator;
    /** Whether the image may carry the v3 zero flag in L2 entries. */
    private final BooleanSupplier zeroFlag;
    /** Marks the image corrupt and returns the exception to throw. */
    private final Function<BlockIOException, BlockIOException> corruption;

    GuestMapping(Qcow2Layout layout, PositionalFile file, L1Table l1, TableCache<L2Table> l2Cache,
            MetadataRegions regions, ClusterAllocator allocator, BooleanSupplier zeroFlag,
            Function<BlockIOException, BlockIOException> corruption) throws CorruptionException {
        this.layout = layout;
        this.file = file;
        this.l1 = l1;
        this.l2Cache = l2Cache;
        this.regions = regions;
        this.allocator = allocator;
        this.zeroFlag = zeroFlag;
        this.corruption = corruption;
        for (int i = 0; i < l1.size(); i++) {
            long l2 = l1.l2Offset(i, layout);
            if (l2 != 0) {
                regions.addCluster(l2);
            }
        }
    }

    /** The L2 entry of the guest cluster containing {@code guestOffset}. */
    L2Entry entry(long guestOffset) throws BlockIOException {
        L2Table table = l2Table(guestOffset);
        if (table == null) {
            return new L2Entry(L2Entry.Kind.UNALLOCATED, 0, 0, false);
        }
        return decodeChecked(table.get(layout.l2Index(guestOffset)));
    }

    /**
     * Maps a prefix of {@code [guestOffset, guestOffset + maxLength)}: clusters of one kind,
     * contiguous on the host for NORMAL ones, within one L2 table; compressed clusters one at a time.
     */
    ClusterRun run(long guestOffset, long maxLength) throws BlockIOException {
        L2Table table = l2Table(guestOffset);
        int inCluster = layout.offsetInCluster(guestOffset);
        long tableEnd = (layout.l1Index(guestOffset) + 1) * layout.bytesPerL2Table();
        long limit = Math.min(guestOffset + maxLength, tableEnd);
        if (table == null) {
            return new ClusterRun(guestOffset, limit - guestOffset, new L2Entry(L2Entry.Kind.UNALLOCATED, 0, 0, false), 0);
        }
        int index = layout.l2Index(guestOffset);
        L2Entry first = decodeChecked(table.get(index));
        long end = layout.clusterStart(guestOffset) + layout.clusterSize();
        if (first.kind() != L2Entry.Kind.COMPRESSED) {
            while (end < limit) {
                L2Entry next = decodeChecked(table.get(++index));
                boolean continues = next.kind() == first.kind() && (first.kind() != L2Entry.Kind.NORMAL
                        || next.hostOffset() == first.hostOffset() + (end - layout.clusterStart(guestOffset)));
                if (!continues) {
                    break;
                }
                end += layout.clusterSize();
            }
        }
        long host = first.kind() == L2Entry.Kind.NORMAL ? first.hostOffset() + inCluster : first.hostOffset();
        return new ClusterRun(guestOffset, Math.min(end, limit) - guestOffset, first, host);
    }

    /** Sets the L2 entry of a guest cluster, allocating its L2 table when there is none. */
    void setEntry(long guestOffset, long raw) throws BlockIOException {
        L2Table table = l2Table(guestOffset);
        if (table == null) {
            long l2Offset = allocator.allocate(1);
            table = L2Table.empty(l2Offset, layout);
            l2Cache.put(table);
            regions.addCluster(l2Offset);
            l1.setL2Offset(l1Slot(guestOffset), l2Offset);
        }
        table.set(layout.l2Index(guestOffset), raw);
    }

    /** True when the guest cluster has an L2 table (setting its entry allocates nothing). */
    boolean hasL2Table(long guestOffset) throws BlockIOException {
        return l1.l2Offset(l1Slot(guestOffset), layout) != 0;
    }

    private L2Table l2Table(long guestOffset) throws BlockIOException {
        int slot = l1Slot(guestOffset);
        long l2Offset = l1.l2Offset(slot, layout);
        if (l2Offset == 0) {
            return null;
        }
        L2Table table = l2Cache.get(l2Offset);
        if (table == null) {
            table = loadL2(l2Offset);
            l2Cache.put(table);
        }
        return table;
    }

    private L2Table loadL2(long l2Offset) throws BlockIOException {
        if (l2Offset > allocator.hostEnd() - layout.clusterSize()) {
            throw corruption.apply(new CorruptionException("L2 table at " + l2Offset + " lies past the end of the file"));
        }
        if (regions.overlapsFixedTables(l2Offset)) {
            throw corruption.apply(new CorruptionException("L2 table at " + l2Offset + " overlaps the header, L1 or refcount table"));
        }
        ByteBuffer b = ByteBuffer.allocate(layout.clusterSize());
        file.readZeroFilled(l2Offset, b);
        return L2Table.decode(l2Offset, b.flip());
    }

    private int l1Slot(long guestOffset) throws CorruptionException {
        long slot = layout.l1Index(guestOffset);
        if (slot >= l1.size()) {
            throw new CorruptionException("guest offset " + guestOffset + " has no L1 slot");
        }
        return (int) slot;
    }

    private L2Entry decodeChecked(long raw) throws BlockIOException {
        L2Entry e;
        try {
            e = L2Entry.decode(raw, layout, zeroFlag.getAsBoolean());
        } catch (CorruptionException ex) {
            throw corruption.apply(ex);
        }
        if (e.hostOffset() != 0 && e.hostOffset() >= allocator.hostEnd()) {
            throw corruption.apply(new CorruptionException(String.format(
                    "L2 entry 0x%016x points past the end of the file (%d)", raw, allocator.hostEnd())));
        }
        return e;
    }
}
