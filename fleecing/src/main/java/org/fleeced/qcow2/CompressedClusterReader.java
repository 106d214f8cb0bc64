package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.nio.ByteBuffer;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;
import org.fleeced.block.BlockIOException;

/**
 * Reads compressed clusters (qcow2 spec "Compressed Clusters Descriptor"): raw deflate data
 * (no zlib header) at a byte offset, at most the descriptor's sector count long, that inflates
 * to exactly one cluster. The data may end before the descriptor's last sector (that sector may
 * be shared with the next compressed cluster), so inflation stops when a cluster is full.
 *
 * <p>Keeps the last inflated cluster, since sequential reads hit one compressed cluster many
 * times. Thread-safe: the one-entry cache is guarded by {@code lock}.
 */
final class CompressedClusterReader {
    private final Qcow2Layout layout;
    private final PositionalFile file;
    private final ReentrantLock lock = new ReentrantLock();
    /** Host offset of {@code lastCluster}'s compressed data, or -1. Guarded by lock. */
    private long lastOffset = -1;
    /** The last inflated cluster. Guarded by lock. */
    private byte[] lastCluster;

    CompressedClusterReader(Qcow2Layout layout, PositionalFile file) {
        this.layout = layout;
        this.file = file;
    }

    /** Copies {@code dst.remaining()} bytes from offset {@code inCluster} of the inflated cluster. */
    void read(L2Entry entry, int inCluster, ByteBuffer dst) throws BlockIOException {
        byte[] cluster = inflated(entry);
        dst.put(cluster, inCluster, dst.remaining());
    }

    private byte[] inflated(L2Entry entry) throws BlockIOException {
        lock.lock();
        try {
            if (lastOffset == entry.hostOffset()) {
                return lastCluster;
            }
        } finally {
            lock.unlock();
        }
        ByteBuffer compressed = ByteBuffer.allocate(entry.compressedBytes());
        file.readZeroFilled(entry.hostOffset(), compressed);
        byte[] cluster = inflate(compressed.array(), entry);
        lock.lock();
        try {
            lastOffset = entry.hostOffset();
            lastCluster = cluster;
        } finally {
            lock.unlock();
        }
        return cluster;
    }

    private byte[] inflate(byte[] input, L2Entry entry) throws CorruptionException {
        byte[] out = new byte[layout.clusterSize()];
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(input);
            int filled = 0;
            while (filled < out.length) {
                int n = inflater.inflate(out, filled, out.length - filled);
                if (n == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
                filled += n;
            }
            if (filled != out.length) {
                throw new CorruptionException("compressed cluster at host offset " + entry.hostOffset()
                        + " inflates to " + filled + " bytes, not one cluster");
            }
            return out;
        } catch (DataFormatException e) {
            throw new CorruptionException("compressed cluster at host offset " + entry.hostOffset()
                    + " is not valid deflate data: " + e.getMessage());
        } finally {
            inflater.end();
        }
    }
}
