package org.fleeced.qcow2.bitmap;

import java.nio.ByteBuffer;
import java.util.Arrays;
import org.fleeced.bitmaps.BitmapView;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.bitmaps.Qcow2BitmapLayout;
import org.fleeced.block.BlockIOException;
import org.fleeced.qcow2.Qcow2ExtensionStorage;
import org.fleeced.qcow2.Qcow2Metadata;

/**
 * Reading and writing one bitmap's table and data clusters (qcow2 spec "Bitmap table" and
 * "Bitmap data"). The bit layout itself is {@link Qcow2BitmapLayout}'s; this class moves the
 * clusters. All methods need the image's metadata lock.
 *
 * <p>Reading checks every entry ({@link BitmapTableEntry#problem}) before it is used, and reads
 * the table one cluster at a time, so a damaged table costs neither a crash nor unbounded memory.
 * Writing allocates new clusters (refcount 1, reserved as metadata) and never touches the
 * clusters of the table it replaces: the caller frees those once the new directory is durable.
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
        return new StoredTable(entry.tableOffset(), size, Arrays.copyOf(data, dataCount));
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
     * Writes {@code bits} as a new table with new data clusters (all-zero and all-one clusters
     * get no data cluster) and returns where it is. On failure, frees what it allocated.
     */
    StoredTable writeLocked(BitmapView bits) throws BlockIOException {
        long size = Qcow2BitmapLayout.tableSize(bits.sizeBytes(), bits.granularity(), clusterSize);
        ByteBuffer table = ByteBuffer.allocate((int) (size * 8));
        long[] data = new long[(int) Math.min(size, 4096)];
        int dataCount = 0;
        ByteBuffer cluster = ByteBuffer.allocate(clusterSize);
        try {
            for (long i = 0; i < size; i++) {
                cluster.clear();
                switch (Qcow2BitmapLayout.encodeCluster(bits, i, clusterSize, cluster)) {
                    case ALL_ZERO -> table.putLong(BitmapTableEntry.ALL_ZEROES);
                    case ALL_ONE -> table.putLong(BitmapTableEntry.ALL_ONES);
                    case MIXED -> {
                        long host = allocateLocked(1);
                        if (dataCount == data.length) {
                            data = Arrays.copyOf(data, data.length * 2);
                        }
                        data[dataCount++] = host;
                        storage.writeLocked(host, cluster.flip());
                        table.putLong(BitmapTableEntry.dataCluster(host));
                    }
                }
            }
            long tableOffset = allocateLocked((int) metadata.layout().clustersFor(size * 8));
            StoredTable stored = new StoredTable(tableOffset, (int) size, Arrays.copyOf(data, dataCount));
            try {
                storage.writeLocked(tableOffset, table.flip());
            } catch (BlockIOException e) {
                freeLocked(tableOffset, stored.tableBytes());
                throw e;
            }
            return stored;
        } catch (BlockIOException e) {
            for (int i = 0; i < dataCount; i++) {
                freeLocked(data[i], clusterSize);
            }
            throw e;
        }
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
