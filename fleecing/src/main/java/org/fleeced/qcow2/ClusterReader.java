package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.nio.ByteBuffer;
import org.fleeced.block.BlockIOException;

/**
 * The read path: maps the request run by run under the metadata lock, then reads each run
 * without it: NORMAL runs from the host file, ZERO runs as zeroes, UNALLOCATED runs from the
 * backing chain (or zeroes), COMPRESSED clusters through {@link CompressedClusterReader}.
 *
 * <p>Reads take no range lock. A read racing a discard of the same range may return the old
 * data, zeroes, or (if the freed cluster is reused at once) another range's new data; discard
 * leaves the range's contents unspecified, so every one of these is allowed.
 */
final class ClusterReader {
    private final Qcow2Metadata metadata;
    private final PositionalFile file;
    private final BackingView backing;
    private final CompressedClusterReader compressed;

    ClusterReader(Qcow2Metadata metadata, BackingView backing) {
        this.metadata = metadata;
        this.file = metadata.file();
        this.backing = backing;
        this.compressed = new CompressedClusterReader(metadata.layout(), file);
    }

    void read(long offset, ByteBuffer dst) throws BlockIOException {
        long pos = offset;
        while (dst.hasRemaining()) {
            ClusterRun run;
            metadata.lock();
            try {
                run = metadata.runLocked(pos, dst.remaining());
            } finally {
                metadata.unlock();
            }
            int n = (int) run.length();
            readRun(run, dst.slice(dst.position(), n));
            dst.position(dst.position() + n);
            pos += n;
        }
    }

    /** Fills {@code dst} with the guest bytes of a run (or a part of it starting at the run's start). */
    void readRun(ClusterRun run, ByteBuffer dst) throws BlockIOException {
        switch (run.kind()) {
            case NORMAL -> file.readZeroFilled(run.hostOffset(), dst);
            case ZERO -> dst.put(new byte[dst.remaining()]);
            case UNALLOCATED -> backing.read(run.guestOffset(), dst);
            case COMPRESSED -> compressed.read(run.entry(), metadata.layout().offsetInCluster(run.guestOffset()), dst);
        }
    }

    /** Fills {@code dst} with the bytes the guest cluster at {@code clusterStart} holds under {@code entry}, from {@code from}. */
    void readCluster(long clusterStart, L2Entry entry, int from, ByteBuffer dst) throws BlockIOException {
        long host = entry.kind() == L2Entry.Kind.NORMAL ? entry.hostOffset() + from : entry.hostOffset();
        readRun(new ClusterRun(clusterStart + from, dst.remaining(), entry, host), dst);
    }
}
