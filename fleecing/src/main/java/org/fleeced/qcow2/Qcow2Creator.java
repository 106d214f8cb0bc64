package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * Creates version 3 images. Layout of a new image:
 * <pre>
 *   cluster 0            header, extensions (backing format, feature names), backing file name
 *   next T clusters      refcount table
 *   next L clusters      L1 table (all entries 0)
 *   next R clusters      refcount blocks counting clusters 0 .. end
 * </pre>
 * T and R are found by iterating to a fixed point, since the refcount blocks count themselves.
 * With preallocation=metadata the image is then opened and every guest cluster mapped through the
 * normal allocator, and the file is extended over the data clusters (sparse: they read as zeroes).
 */
public final class Qcow2Creator {
    private static final int HEADER_LENGTH = 112;

    private Qcow2Creator() {
    }

    /**
     * Creates the image (failing if {@code path} exists) and returns nothing open. A virtual size
     * the format cannot address with a bounded L1 table, or a file the file system refuses, is
     * EFBIG; a create that fails leaves no file behind.
     */
    public static void create(Path path, Qcow2CreateOptions o) throws BlockIOException {
        Qcow2Layout layout = new Qcow2Layout(Integer.numberOfTrailingZeros(o.clusterSize()), o.refcountOrder());
        long l1Entries = layout.l1EntriesFor(o.sizeBytes());
        if (l1Entries * Qcow2Layout.TABLE_ENTRY_BYTES > Qcow2Header.MAX_L1_BYTES) {
            throw new BlockIOException(Errno.EFBIG, "size " + o.sizeBytes() + " needs an L1 table over 32 MiB; use larger clusters");
        }
        long l1Clusters = layout.clustersFor(l1Entries * Qcow2Layout.TABLE_ENTRY_BYTES);
        long tableClusters = 1;
        long blocks = 1;
        while (true) {
            long total = 1 + tableClusters + l1Clusters + blocks;
            long neededBlocks = (total + layout.refblockEntries() - 1) / layout.refblockEntries();
            long neededTable = layout.clustersFor(neededBlocks * Qcow2Layout.TABLE_ENTRY_BYTES);
            if (neededBlocks == blocks && neededTable == tableClusters) {
                break;
            }
            blocks = neededBlocks;
            tableClusters = neededTable;
        }
        long tableOffset = layout.clusterOffset(1);
        long l1Offset = layout.clusterOffset(1 + tableClusters);
        long blocksOffset = layout.clusterOffset(1 + tableClusters + l1Clusters);
        long totalClusters = 1 + tableClusters + l1Clusters + blocks;

        Qcow2Header header = new Qcow2Header(3, layout.clusterBits(), o.sizeBytes(), 0, (int) l1Entries, l1Offset,
                tableOffset, (int) tableClusters, 0, 0,
                new FeatureBits(0, o.lazyRefcounts() ? FeatureBits.COMPAT_LAZY_REFCOUNTS : 0, 0),
                o.refcountOrder(), HEADER_LENGTH, new byte[HEADER_LENGTH - Qcow2Header.V3_HEADER_LENGTH],
                extensions(o), o.backingFile());
        try {
            Files.createFile(path);
        } catch (IOException e) {
            throw PositionalFile.ioError("create " + path, e);
        }
        try {
            try (PositionalFile file = PositionalFile.open(path, false, true)) {
                file.writeFully(0, header.encode());
                ByteBuffer table = ByteBuffer.allocate((int) (tableClusters * layout.clusterSize()));
                for (long i = 0; i < blocks; i++) {
                    RefcountBlock block = RefcountBlock.empty(blocksOffset + layout.clusterOffset(i), layout);
                    for (int j = 0; j < layout.refblockEntries(); j++) {
                        if (i * layout.refblockEntries() + j < totalClusters) {
                            block.set(j, 1);
                        }
                    }
                    file.writeFully(block.hostOffset(), block.encode());
                    table.putLong((int) (i * Qcow2Layout.TABLE_ENTRY_BYTES), block.hostOffset());
                }
                file.writeFully(tableOffset, table.clear());
                file.truncate(layout.clusterOffset(totalClusters));
                file.sync();
            }
            if (o.preallocation() == Qcow2CreateOptions.Preallocation.METADATA) {
                preallocate(path, layout, o.sizeBytes());
            }
        } catch (BlockIOException | RuntimeException e) {
            PositionalFile.deleteCreated(path, e);
            throw e;
        }
    }

    private static List<HeaderExtension> extensions(Qcow2CreateOptions o) {
        List<HeaderExtension> list = new ArrayList<>();
        if (o.backingFormat() != null) {
            list.add(new HeaderExtension(HeaderExtension.BACKING_FORMAT, o.backingFormat().getBytes(StandardCharsets.UTF_8)));
        }
        HeaderExtension names = featureNameTable();
        int used = HEADER_LENGTH + 8 + names.encodedSize() + (o.backingFile() == null ? 0 : o.backingFile().length() * 3);
        for (HeaderExtension e : list) {
            used += e.encodedSize();
        }
        if (used <= o.clusterSize()) {
            // Optional: small clusters leave no room for it, and then features are named from the spec.
            list.add(names);
        }
        return list;
    }

    /** Names for the features this driver knows (spec "Feature name table"). */
    private static HeaderExtension featureNameTable() {
        String[][] names = {
            {"0", "0", "dirty bit"}, {"0", "1", "corrupt bit"}, {"0", "2", "external data file"},
            {"0", "3", "compression type"}, {"0", "4", "extended L2 entries"},
            {"1", "0", "lazy refcounts"}, {"2", "0", "bitmaps"}, {"2", "1", "raw external data"},
        };
        ByteBuffer b = ByteBuffer.allocate(names.length * 48);
        for (String[] n : names) {
            byte[] name = n[2].getBytes(StandardCharsets.UTF_8);
            b.put((byte) Integer.parseInt(n[0])).put((byte) Integer.parseInt(n[1])).put(name).put(new byte[46 - name.length]);
        }
        return new HeaderExtension(HeaderExtension.FEATURE_NAME_TABLE, b.array());
    }

    /** Maps every guest cluster to a data cluster, L2 table by L2 table, through the allocator. */
    private static void preallocate(Path path, Qcow2Layout layout, long size) throws BlockIOException {
        try (Qcow2Node node = Qcow2Node.open(path, Qcow2OpenOptions.readWrite())) {
            Qcow2Metadata md = node.metadata();
            long end;
            md.lock();
            try {
                for (long g = 0; g < size; g += layout.bytesPerL2Table()) {
                    int clusters = (int) layout.clustersFor(Math.min(layout.bytesPerL2Table(), size - g));
                    md.setEntryLocked(g, 0);
                    long host = md.allocateClustersLocked(clusters);
                    for (int i = 0; i < clusters; i++) {
                        md.setEntryLocked(g + layout.clusterOffset(i), L2Entry.normal(host + layout.clusterOffset(i)));
                    }
                    md.trimCachesLocked();
                }
                end = md.allocatedEndLocked();
            } finally {
                md.unlock();
            }
            md.file().truncate(end);
        }
    }
}
