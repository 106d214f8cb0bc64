package org.fleeced.qcow2.bitmap;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.fleeced.bitmaps.BitmapView;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.bitmaps.Qcow2BitmapLayout;
import org.fleeced.block.BlockIOException;
import org.fleeced.qcow2.Qcow2ExtensionStorage;
import org.fleeced.qcow2.Qcow2Metadata;

/**
 * Reading and writing one bitmap's table and data clusters (qcow2 spec "Bitmap table" and
 * "Bitmap data"). The bit layout itself is {@link Qcow2BitmapLayout}'s; this class moves the
 * clusters. Methods ending in {@code Locked} need the image's metadata lock; {@link #encode}
 * and {@link #write} run without it (a store must not hold guest I/O while it writes).
 *
 * <p>Reading checks every entry ({@link BitmapTableEntry#problem}) before it is used, and reads
 * the table one cluster at a time, so a damaged table costs neither a crash nor unbounded memory.
 * Writing is three steps: {@link #encode} (no lock), {@link #placeLocked} (allocates new
 * clusters, refcount 1, reserved as metadata, under the lock), {@link #write} (no lock). It
 * never touches the clusters of the table it replaces: the caller frees those once the new
 * directory is durable.
 */
final class BitmapTable {
    private final Qcow2ExtensionStorage storage;
    private final Qcow2Metadata metadata;
    private final int clusterSize;

    BitmapTable(Qcow2ExtensionStorage storage) {
        this.storage = storage;
        this.metadata = storage.metadata();
        this.clusterSize = metadata.layout().clusterSize();
    }

    /** Reads and checks the table of {@code entry}; the bits are loaded into {@code into} when it is not null. */
    StoredTable readLocked(BitmapDirectoryEntry entry, DirtyBitmap into) throws BlockIOException {
        long hostEnd = storage.hostEndLocked();
        int size = entry.tableSize();
        long[] data = new long[Math.min(size, 4096)];
        int dataCount = 0;
        ByteBuffer tableCluster = ByteBuffer.allocate(clusterSize);
        ByteBuffer dataCluster = ByteBuffer.allocate(clusterSize);
        int perCluster = clusterSize / 8;
        for (int first = 0; first < size; first += perCluster) {
            int n = Math.min(perCluster, size - first);
            tableCluster.clear().limit(n * 8);
            storage.readLocked(entry.tableOffset() + first * 8L, tableCluster);
            tableCluster.flip();
            for (int i = 0; i < n; i++) {
                long raw = tableCluster.getLong();
                String problem = BitmapTableEntry.problem(raw, clusterSize, hostEnd);
                if (problem != null) {
                    throw BitmapsExtension.damaged("bitmap '" + entry.nameString() + "', table entry " + (first + i) + ": " + problem);
                }
                long host = BitmapTableEntry.hostOffset(raw);
                if (host != 0) {
                    if (dataCount == data.length) {
                        data = Arrays.copyOf(data, data.length * 2);
                    }
                    data[dataCount++] = host;
                }
                if (into != null) {
                    load(into, first + i, raw, dataCluster);
                }
            }
        }
        StoredTable stored = new StoredTable(entry.tableOffset(), size, Arrays.copyOf(data, dataCount));
        reserveLocked(stored);
        return stored;
    }

    /**
     * Protects a table found in the image, and its data clusters, as {@link #placeLocked} protects
     * the ones it allocates: on a damaged image whose refcounts let go of them (a compressed
     * cluster said to span them, freed by a guest write), handing them out again or writing guest
     * data there is refused as damage instead of overwriting a bitmap. {@link #free} ends it.
     */
    private void reserveLocked(StoredTable stored) {
        metadata.reserveMetadataLocked(stored.tableOffset(), stored.tableBytes());
        for (long host : stored.dataClusters()) {
            metadata.reserveMetadataLocked(host, clusterSize);
        }
    }

    private void load(DirtyBitmap into, long index, long raw, ByteBuffer dataCluster) throws BlockIOException {
        long host = BitmapTableEntry.hostOffset(raw);
        if (host == 0) {
            if (BitmapTableEntry.allOnes(raw)) {
                Qcow2BitmapLayout.fillCluster(into, index, clusterSize, true);
            }
            return;
        }
        dataCluster.clear();
        storage.readLocked(host, dataCluster);
        Qcow2BitmapLayout.decodeCluster(into, index, clusterSize, dataCluster.flip());
    }

    /**
     * One bitmap encoded for a store, before any cluster is allocated: the table's entries
     * (all-zero and all-one clusters final, MIXED ones to be placed) and the bytes of each MIXED
     * data cluster with its table index. Made without the metadata lock.
     */
    record Encoded(long[] entries, int[] mixedIndexes, ByteBuffer[] mixedClusters) {
    }

    /** An encoded bitmap with its clusters allocated: where it goes, and the table's bytes. */
    record Placed(StoredTable stored, Encoded encoded, ByteBuffer table) {
    }

    /** Encodes {@code bits} into table entries and data clusters; CPU only, no lock. */
    Encoded encode(BitmapView bits) {
        long size = Qcow2BitmapLayout.tableSize(bits.sizeBytes(), bits.granularity(), clusterSize);
        long[] entries = new long[(int) size];
        List<ByteBuffer> mixed = new ArrayList<>();
        int[] indexes = new int[(int) Math.min(size, 4096)];
        ByteBuffer cluster = ByteBuffer.allocate(clusterSize);
        for (int i = 0; i < size; i++) {
            cluster.clear();
            switch (Qcow2BitmapLayout.encodeCluster(bits, i, clusterSize, cluster)) {
                case ALL_ZERO -> entries[i] = BitmapTableEntry.ALL_ZEROES;
                case ALL_ONE -> entries[i] = BitmapTableEntry.ALL_ONES;
                case MIXED -> {
                    if (mixed.size() == indexes.length) {
                        indexes = Arrays.copyOf(indexes, indexes.length * 2);
                    }
                    indexes[mixed.size()] = i;
                    mixed.add(cluster.flip());
                    cluster = ByteBuffer.allocate(clusterSize);
                }
            }
        }
        return new Encoded(entries, Arrays.copyOf(indexes, mixed.size()), mixed.toArray(ByteBuffer[]::new));
    }

    /**
     * Allocates (and reserves) the data clusters and the table of an encoded bitmap; in memory
     * only, so the metadata lock is held briefly. On failure, frees what it allocated.
     */
    Placed placeLocked(Encoded encoded) throws BlockIOException {
        long[] entries = encoded.entries().clone();
        long[] data = new long[encoded.mixedClusters().length];
        int placed = 0;
        try {
            for (; placed < data.length; placed++) {
                data[placed] = allocateLocked(1);
                entries[encoded.mixedIndexes()[placed]] = BitmapTableEntry.dataCluster(data[placed]);
            }
            long tableOffset = allocateLocked((int) metadata.layout().clustersFor(entries.length * 8L));
            ByteBuffer table = ByteBuffer.allocate(entries.length * 8);
            table.asLongBuffer().put(entries);
            return new Placed(new StoredTable(tableOffset, entries.length, data), encoded, table);
        } catch (BlockIOException | RuntimeException e) {
            for (int i = 0; i < placed; i++) {
                freeLocked(data[i], clusterSize);
            }
            throw e;
        }
    }

    /**
     * Writes a placed bitmap's data clusters and table, without the metadata lock: its clusters
     * are reserved, and nothing on disk references them until the caller's header write.
     */
    void write(Placed placed) throws BlockIOException {
        long[] data = placed.stored().dataClusters();
        for (int i = 0; i < data.length; i++) {
            storage.writeReserved(data[i], placed.encoded().mixedClusters()[i].duplicate());
        }
        storage.writeReserved(placed.stored().tableOffset(), placed.table().duplicate());
    }

    /** Drops the clusters of a table nothing durable references any more. */
    void free(StoredTable stored) throws BlockIOException {
        for (long host : stored.dataClusters()) {
            freeLocked(host, clusterSize);
        }
        freeLocked(stored.tableOffset(), stored.tableBytes());
    }

    /** Allocates contiguous clusters and protects them from data writes. */
    long allocateLocked(int clusters) throws BlockIOException {
        long host = metadata.allocateClustersLocked(Math.max(1, clusters));
        metadata.reserveMetadataLocked(host, (long) Math.max(1, clusters) * clusterSize);
        return host;
    }

    /** Frees the clusters of {@code [host, host + bytes)} and ends their protection. */
    void freeLocked(long host, long bytes) throws BlockIOException {
        int clusters = (int) Math.max(1, metadata.layout().clustersFor(bytes));
        metadata.releaseMetadataReservationLocked(host, (long) clusters * clusterSize);
        metadata.freeNowLocked(host, clusters);
    }
}
