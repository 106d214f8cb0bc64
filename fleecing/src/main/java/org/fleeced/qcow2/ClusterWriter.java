package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.nio.ByteBuffer;
import org.fleeced.block.BlockIOException;

/**
 * The write path, one guest cluster at a time. The caller holds an exclusive
 * {@link org.fleeced.block.InFlightRanges} registration covering the clusters, so no other
 * write, zeroing or discard changes their mapping meanwhile.
 *
 * <p>Per cluster state and action:
 * <ul>
 *   <li>NORMAL with COPIED (refcount 1): written in place.</li>
 *   <li>ZERO with a preallocated host cluster and COPIED: the cluster is reused; the bytes the
 *       write leaves untouched are written as zeroes.</li>
 *   <li>anything else (UNALLOCATED, ZERO, shared NORMAL, COMPRESSED): a new cluster is
 *       allocated, the untouched bytes are copied from what the cluster read as before (backing
 *       chain, zeroes, old data or inflated data), the whole cluster is written, and only then is
 *       the L2 entry pointed at it; the old host cluster is released after the next metadata
 *       flush (see {@link Qcow2Metadata}).</li>
 * </ul>
 */
final class ClusterWriter {
    private final Qcow2Metadata metadata;
    private final Qcow2Layout layout;
    private final PositionalFile file;
    private final ClusterReader reader;
    private final long size;

    ClusterWriter(Qcow2Metadata metadata, ClusterReader reader, long size) {
        this.metadata = metadata;
        this.layout = metadata.layout();
        this.file = metadata.file();
        this.reader = reader;
        this.size = size;
    }

    /** Writes {@code src} at {@code offset}; the caller holds the range registration. */
    void write(long offset, ByteBuffer src) throws BlockIOException {
        long pos = offset;
        while (src.hasRemaining()) {
            long clusterStart = layout.clusterStart(pos);
            int inCluster = (int) (pos - clusterStart);
            int n = (int) Math.min(src.remaining(), layout.clusterSize() - inCluster);
            writeCluster(clusterStart, inCluster, src.slice(src.position(), n));
            src.position(src.position() + n);
            pos += n;
        }
    }

    /** Guest bytes of the cluster that lie inside the disk (the last cluster may be short). */
    int clusterBytes(long clusterStart) {
        return (int) Math.min(layout.clusterSize(), size - clusterStart);
    }

    private void writeCluster(long clusterStart, int inCluster, ByteBuffer piece) throws BlockIOException {
        L2Entry old;
        metadata.lock();
        try {
            metadata.checkWritableLocked();
            old = metadata.entryLocked(clusterStart);
            if (old.kind() == L2Entry.Kind.NORMAL && old.copied()) {
                metadata.checkDataClusterLocked(old.hostOffset());
            }
        } finally {
            metadata.unlock();
        }
        if (old.kind() == L2Entry.Kind.NORMAL && old.copied()) {
            file.writeFully(old.hostOffset() + inCluster, piece);
            return;
        }
        ByteBuffer data = inCluster == 0 && piece.remaining() == clusterBytes(clusterStart)
                ? piece : mergedCluster(clusterStart, old, inCluster, piece);
        boolean reuse = old.kind() == L2Entry.Kind.ZERO && old.copied() && old.hostOffset() != 0;
        long host = reuse ? old.hostOffset() : allocate();
        try {
            file.writeFully(host, data);
        } catch (BlockIOException e) {
            if (!reuse) {
                freeUnreferenced(host, e);
            }
            throw e;
        }
        metadata.lock();
        try {
            metadata.setEntryLocked(clusterStart, L2Entry.normal(host));
            if (!reuse) {
                metadata.releaseLocked(old);
            }
            metadata.trimCachesLocked();
        } finally {
            metadata.unlock();
        }
    }

    private long allocate() throws BlockIOException {
        metadata.lock();
        try {
            return metadata.allocateClustersLocked(1);
        } finally {
            metadata.unlock();
        }
    }

    private void freeUnreferenced(long host, BlockIOException primary) {
        metadata.lock();
        try {
            metadata.freeNowLocked(host, 1);
        } catch (BlockIOException e) {
            primary.addSuppressed(e);
        } finally {
            metadata.unlock();
        }
    }

    /** The cluster's new contents: the old contents (what it read as) with {@code piece} laid over. */
    private ByteBuffer mergedCluster(long clusterStart, L2Entry old, int inCluster, ByteBuffer piece)
            throws BlockIOException {
        int bytes = clusterBytes(clusterStart);
        ByteBuffer cluster = ByteBuffer.allocate(bytes);
        boolean oldReadsZero = old.kind() == L2Entry.Kind.ZERO;
        if (!oldReadsZero && inCluster > 0) {
            reader.readCluster(clusterStart, old, 0, cluster.slice(0, inCluster));
        }
        int tail = inCluster + piece.remaining();
        if (!oldReadsZero && tail < bytes) {
            reader.readCluster(clusterStart, old, tail, cluster.slice(tail, bytes - tail));
        }
        cluster.put(inCluster, piece, piece.position(), piece.remaining());
        return cluster;
    }
}
