package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Capabilities;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.InFlightRanges;
import org.fleeced.block.WriteFlag;

/**
 * A {@link BlockNode} over a qcow2 image (DESIGN.md section 4).
 * <pre>
 *   Qcow2Node ── ClusterReader ─┬─ CompressedClusterReader
 *       │        ClusterWriter ─┤
 *       │        ZeroWriter ────┤
 *       │        AllocationStatus
 *       ├─ Qcow2Metadata (one lock: header, L1, L2 cache, refcounts, allocator)
 *       ├─ PositionalFile (the .qcow2 file)
 *       └─ BackingView ── backing BlockNode (qcow2 or raw, opened by {@link ImageOpener})
 * </pre>
 *
 * <p>Concurrency: requests run on the caller's (virtual) threads. Metadata lookups and updates
 * take the metadata lock briefly; data I/O runs without it, so requests to different clusters
 * proceed in parallel. write, writeZeroes and discard register their cluster-aligned range
 * exclusively in {@link InFlightRanges}, which serializes overlapping allocating writes and keeps
 * a cluster's mapping stable while one request works on it.
 *
 * <p>Damaged metadata found by any request raises EIO, marks the image corrupt (the corrupt bit
 * is set when open read-write) and makes every later write fail.
 */
public final class Qcow2Node implements BlockNode {
    private final Path path;
    private final Qcow2Metadata metadata;
    private final PositionalFile file;
    private final BackingView backing;
    private final ClusterReader reader;
    private final ClusterWriter writer;
    private final ZeroWriter zeroWriter;
    private final AllocationStatus status;
    private final InFlightRanges inFlight = new InFlightRanges();
    private final Capabilities capabilities;
    private final long size;
    /** Set by close; later close calls do nothing. */
    private volatile boolean closed;

    Qcow2Node(Path path, PositionalFile file, Qcow2Metadata metadata, BlockNode backingNode) {
        this.path = path;
        this.file = file;
        this.metadata = metadata;
        this.size = metadata.header().size();
        this.backing = new BackingView(backingNode);
        this.reader = new ClusterReader(metadata, backing);
        this.writer = new ClusterWriter(metadata, reader, size);
        this.zeroWriter = new ZeroWriter(metadata, writer, backing, size);
        this.status = new AllocationStatus(metadata, backing);
        boolean rw = !metadata.readOnly();
        int clusterSize = metadata.layout().clusterSize();
        this.capabilities = new Capabilities(rw, rw, rw, rw, true, rw, 1, clusterSize,
                Math.max(Capabilities.DEFAULT_MAX_REQUEST_BYTES, clusterSize));
    }

    /** Opens an image and its backing chain; see {@link Qcow2Opener}. */
    public static Qcow2Node open(Path path, Qcow2OpenOptions options) throws BlockIOException {
        return Qcow2Opener.open(path, options, new java.util.HashSet<>());
    }

    Path path() {
        return path;
    }

    /** The metadata, for the persistent-bitmaps code in this package. */
    Qcow2Metadata metadata() {
        return metadata;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public Capabilities capabilities() {
        return capabilities;
    }

    @Override
    public String describe() {
        return "qcow2 " + path;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        try {
            reader.read(offset, dst);
        } catch (CorruptionException e) {
            throw metadata.corrupt(e);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        if (!src.hasRemaining()) {
            return;
        }
        try (InFlightRanges.Ticket ignored = registerClusters(offset, src.remaining())) {
            writer.write(offset, src);
        } catch (CorruptionException e) {
            throw metadata.corrupt(e);
        }
        flushIfFua(flags);
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        if (length == 0) {
            return;
        }
        try (InFlightRanges.Ticket ignored = registerClusters(offset, length)) {
            zeroWriter.writeZeroes(offset, length, flags.contains(WriteFlag.MAY_UNMAP), flags.contains(WriteFlag.FAST_ZERO));
        } catch (CorruptionException e) {
            throw metadata.corrupt(e);
        }
        flushIfFua(flags);
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        if (length == 0) {
            return;
        }
        try (InFlightRanges.Ticket ignored = registerClusters(offset, length)) {
            zeroWriter.discard(offset, length);
        } catch (CorruptionException e) {
            throw metadata.corrupt(e);
        }
    }

    @Override
    public void flush() throws BlockIOException {
        // Most of an fsync's time is the guest data in the page cache; sync it before taking the
        // metadata lock, so concurrent writes are not held up by it. That sync started after
        // every write this flush covers had returned: when they allocated nothing it is all the
        // flush needs, else the write-back under the lock orders metadata after data.
        metadata.file().sync();
        boolean syncAgain;
        metadata.lock();
        try {
            syncAgain = metadata.flushForGuestLocked();
        } catch (CorruptionException e) {
            throw metadata.corrupt(e);
        } finally {
            metadata.unlock();
        }
        if (syncAgain) {
            metadata.file().sync();
        }
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        if (length == 0) {
            return List.of();
        }
        try {
            return status.status(offset, length);
        } catch (CorruptionException e) {
            throw metadata.corrupt(e);
        }
    }

    @Override
    public void close() throws BlockIOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            metadata.lock();
            try {
                metadata.closeLocked();
            } finally {
                metadata.unlock();
            }
        } finally {
            try {
                file.close();
            } finally {
                backing.close();
            }
        }
    }

    private void flushIfFua(Set<WriteFlag> flags) throws BlockIOException {
        if (flags.contains(WriteFlag.FUA)) {
            flush();
        }
    }

    private InFlightRanges.Ticket registerClusters(long offset, long length) throws BlockIOException {
        Alignment.Range r = Alignment.outward(offset, length, metadata.layout().clusterSize());
        try {
            return inFlight.registerExclusive(r.offset(), r.length());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIOException(Errno.EIO, "interrupted while waiting for overlapping requests on " + path, e);
        }
    }
}
