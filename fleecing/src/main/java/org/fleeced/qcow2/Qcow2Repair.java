package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.nio.ByteBuffer;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * Rebuilds the refcount structures from the metadata that references clusters, for images
 * left with the dirty bit (lazy refcounts) after a crash (qcow2 spec "dirty bit").
 *
 * <p>Counts: the header cluster, the L1 table, every L2 table and the data and compressed
 * clusters it maps, and the bitmaps extension's directory, tables and data clusters. Then
 * writes a new refcount table and blocks past the end of the file, syncs, and points the
 * header at them; the old structures become free space. A crash during repair leaves the old
 * (dirty) structures in force, and the next open repairs again.
 *
 * <p>Images with internal snapshots are not opened read-write at all, so their clusters need
 * not be counted here.
 */
final class Qcow2Repair {
    /** Repair keeps one int per host cluster in memory; beyond this the image is refused. */
    static final long MAX_CLUSTERS = 1L << 26;

    private final PositionalFile file;
    private final Qcow2Header header;
    private final Qcow2Layout layout;
    private final int[] counts;

    private Qcow2Repair(PositionalFile file, Qcow2Header header, long clusters) {
        this.file = file;
        this.header = header;
        this.layout = header.layout();
        this.counts = new int[(int) clusters];
    }

    /** Rebuilds the refcounts and returns the header that points at the new table. */
    static Qcow2Header rebuildRefcounts(PositionalFile file, Qcow2Header header) throws BlockIOException {
        Qcow2Layout layout = header.layout();
        long clusters = layout.clustersFor(file.size());
        if (clusters > MAX_CLUSTERS) {
            throw new BlockIOException(Errno.ENOTSUP, file.path() + " is too large to repair in memory ("
                    + clusters + " clusters)");
        }
        Qcow2Repair repair = new Qcow2Repair(file, header, clusters);
        repair.countAll();
        return repair.writeNewRefcounts();
    }

    private void countAll() throws BlockIOException {
        countRange(0, layout.clusterSize());
        countRange(header.l1TableOffset(), (long) header.l1Size() * Qcow2Layout.TABLE_ENTRY_BYTES);
        L1Table l1 = L1Table.load(file, header.l1TableOffset(), header.l1Size());
        for (int i = 0; i < l1.size(); i++) {
            long l2 = l1.l2Offset(i, layout);
            if (l2 != 0) {
                countRange(l2, layout.clusterSize());
                countL2(l2);
            }
        }
        countBitmaps();
    }

    private void countL2(long l2Offset) throws BlockIOException {
        ByteBuffer b = ByteBuffer.allocate(layout.clusterSize());
        file.readFully(l2Offset, b);
        L2Table table = L2Table.decode(l2Offset, b.flip());
        for (int i = 0; i < table.size(); i++) {
            L2Entry e = L2Entry.decode(table.get(i), layout, header.version() >= 3);
            if (e.kind() == L2Entry.Kind.COMPRESSED) {
                countRange(e.hostOffset(), e.compressedBytes());
            } else if (e.hasHostCluster()) {
                countRange(e.hostOffset(), layout.clusterSize());
            }
        }
    }

    /** Bitmaps extension (spec "Bitmaps"): directory, then per bitmap its table and data clusters. */
    private void countBitmaps() throws BlockIOException {
        HeaderExtension ext = header.extension(HeaderExtension.BITMAPS);
        if (ext == null || ext.data().length < 24) {
            return;
        }
        ByteBuffer e = ByteBuffer.wrap(ext.data());
        long dirSize = e.getLong(8);
        long dirOffset = e.getLong(16);
        if (dirSize <= 0 || dirSize > (64L << 20)) {
            throw new CorruptionException("bitmap directory size " + dirSize + " invalid");
        }
        countRange(dirOffset, dirSize);
        ByteBuffer dir = ByteBuffer.allocate((int) dirSize);
        file.readFully(dirOffset, dir);
        dir.flip();
        while (dir.remaining() >= 24) {
            int start = dir.position();
            long tableOffset = dir.getLong();
            int tableSize = dir.getInt();
            dir.getInt();
            dir.getShort();
            int nameSize = dir.getShort() & 0xffff;
            int extraSize = dir.getInt();
            if (extraSize < 0 || extraSize > 1 << 20 || tableSize < 0 || tableSize > (1 << 24)) {
                throw new CorruptionException("bitmap directory entry at " + start + " invalid");
            }
            countBitmapTable(tableOffset, tableSize);
            int entryBytes = (24 + extraSize + nameSize + 7) & ~7;
            dir.position(Math.min(dir.limit(), start + entryBytes));
        }
    }

    private void countBitmapTable(long tableOffset, int entries) throws BlockIOException {
        countRange(tableOffset, (long) entries * Qcow2Layout.TABLE_ENTRY_BYTES);
        ByteBuffer t = ByteBuffer.allocate(entries * Qcow2Layout.TABLE_ENTRY_BYTES);
        file.readFully(tableOffset, t);
        t.flip();
        while (t.hasRemaining()) {
            long data = t.getLong() & L2Entry.OFFSET_MASK;
            if (data != 0) {
                countRange(data, layout.clusterSize());
            }
        }
    }

    private void countRange(long offset, long bytes) throws CorruptionException {
        if (bytes <= 0) {
            return;
        }
        long first = layout.clusterIndex(offset);
        long last = layout.clusterIndex(offset + bytes - 1);
        if (offset < 0 || last >= counts.length) {
            throw new CorruptionException("metadata references host offset " + offset + " past the end of the file");
        }
        for (long c = first; c <= last; c++) {
            counts[(int) c]++;
        }
    }

    /** Places the new table and blocks after the file's end so that they count themselves. */
    private Qcow2Header writeNewRefcounts() throws BlockIOException {
        long base = counts.length;
        long blocks = 0;
        long tableClusters = 1;
        while (true) {
            long end = base + tableClusters + blocks;
            long neededBlocks = (end + layout.refblockEntries() - 1) / layout.refblockEntries();
            long neededTable = Math.max(1, (neededBlocks * Qcow2Layout.TABLE_ENTRY_BYTES + layout.clusterSize() - 1)
                    / layout.clusterSize());
            if (neededBlocks == blocks && neededTable == tableClusters) {
                break;
            }
            blocks = neededBlocks;
            tableClusters = neededTable;
        }
        if (tableClusters * layout.clusterSize() > Qcow2Header.MAX_REFTABLE_BYTES) {
            throw new BlockIOException(Errno.ENOSPC, "rebuilt refcount table would be too large");
        }
        long tableOffset = layout.clusterOffset(base);
        long blocksOffset = layout.clusterOffset(base + tableClusters);
        ByteBuffer table = ByteBuffer.allocate((int) (tableClusters * layout.clusterSize()));
        for (long blockIndex = 0; blockIndex < blocks; blockIndex++) {
            RefcountBlock block = RefcountBlock.empty(blocksOffset + layout.clusterOffset(blockIndex), layout);
            long firstCluster = blockIndex * layout.refblockEntries();
            for (int i = 0; i < layout.refblockEntries(); i++) {
                long c = firstCluster + i;
                long count = c < counts.length ? counts[(int) c] : (c < base + tableClusters + blocks ? 1 : 0);
                if (count > layout.maxRefcount()) {
                    throw new CorruptionException("host cluster " + c + " is referenced " + count + " times");
                }
                block.set(i, count);
            }
            file.writeFully(block.hostOffset(), block.encode());
            table.putLong((int) blockIndex * Qcow2Layout.TABLE_ENTRY_BYTES, block.hostOffset());
        }
        file.writeFully(tableOffset, table);
        file.sync();
        HeaderStore store = new HeaderStore(file, header);
        store.writeRefcountTableLocation(tableOffset, (int) tableClusters);
        return store.header();
    }
}
