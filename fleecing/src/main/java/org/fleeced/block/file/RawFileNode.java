package org.fleeced.block.file;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Capabilities;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.FileSpan;
import org.fleeced.block.WriteFlag;

/**
 * A raw image file as a node: guest offset = file offset.
 *
 * <p>Data goes through {@link PositionalFile} (positional I/O, safe from many threads at once),
 * the same code the qcow2 driver's files use. The calls FileChannel lacks go through {@link NativeFile}: discard and writeZeroes with
 * {@link WriteFlag#MAY_UNMAP} punch holes ({@code fallocate(PUNCH_HOLE|KEEP_SIZE)}), writeZeroes
 * without it zeroes in place ({@code FALLOC_FL_ZERO_RANGE}); where the file system refuses,
 * zeroes are written instead (and FAST_ZERO fails with ENOTSUP). fallocate works on exactly the
 * byte range given, so nothing outside the range is touched; partial file-system blocks at the
 * edges are zeroed, not freed. blockStatus reports holes found with
 * {@code lseek(SEEK_DATA/SEEK_HOLE)}.
 *
 * <p>A raw file has no backing layer, so every extent has depth 1; holes are zero, not data.
 */
public final class RawFileNode implements BlockNode {
    private static final System.Logger LOG = System.getLogger(RawFileNode.class.getName());
    /** Bounds the work of one blockStatus call; callers ask again from where it ends. */
    private static final int MAX_EXTENTS_PER_CALL = 1024;
    private static final int ZERO_CHUNK = 1 << 20;
    private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();

    private final Path path;
    private final PositionalFile file;
    private final NativeFile nativeFile;
    private final long sizeBytes;
    private final Capabilities capabilities;
    /**
     * False while the file is known to have no hole: it had none when opened and this node has
     * made none since (no fallocate; writes never make one). Then block status answers "data"
     * without asking the file system: two lseek calls per NBD read saved on a fully allocated
     * image, which on a virtualized host cost as much as the read's own copy. A hole someone else
     * punches in an image this daemon has open reads as zeroes either way, so at worst it is
     * reported as data.
     */
    private volatile boolean mayHaveHoles;
    /** Set once the file system refused a hole punch; later calls go straight to the fallback. */
    private volatile boolean punchRefused;
    private volatile boolean zeroRangeRefused;

    private RawFileNode(PositionalFile file, NativeFile nativeFile, boolean readOnly) throws BlockIOException {
        this.path = file.path();
        this.file = file;
        this.nativeFile = nativeFile;
        this.sizeBytes = file.size();
        boolean efficient = !readOnly && nativeFile != null;
        this.capabilities = new Capabilities(!readOnly, efficient, efficient, efficient, true, !readOnly,
                1, 4096, Capabilities.DEFAULT_MAX_REQUEST_BYTES);
        this.mayHaveHoles = hasHole(nativeFile, sizeBytes);
    }

    private static boolean hasHole(NativeFile nativeFile, long sizeBytes) {
        if (nativeFile == null) {
            return false;
        }
        try {
            return sizeBytes > 0 && nativeFile.seekHole(0) < sizeBytes;
        } catch (IOException e) {
            return true;
        }
    }

    /** Opens an existing file. Writable opens do not lock; see {@link #openExclusive}. */
    public static RawFileNode open(Path path, boolean readOnly) throws BlockIOException {
        return open(path, readOnly, false);
    }

    /**
     * Opens an existing file for writing and takes an exclusive lock on it, so that a second
     * daemon (or a second attach in this one) cannot write the same image.
     */
    public static RawFileNode openExclusive(Path path) throws BlockIOException {
        return open(path, false, true);
    }

    /**
     * Creates a sparse file of {@code sizeBytes} (failing when the path exists) and opens it for
     * writing. A size the file system refuses is EFBIG, and then no file is left behind.
     */
    public static RawFileNode create(Path path, long sizeBytes) throws BlockIOException {
        try {
            Files.createFile(path);
        } catch (IOException e) {
            throw PositionalFile.ioError("create " + path, e);
        }
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw")) {
            file.setLength(sizeBytes);
        } catch (IOException e) {
            BlockIOException refused = PositionalFile.ioError("create " + path + " of " + sizeBytes + " bytes", e);
            PositionalFile.deleteCreated(path, refused);
            throw refused;
        }
        return open(path, false);
    }

    private static RawFileNode open(Path path, boolean readOnly, boolean exclusive) throws BlockIOException {
        PositionalFile file = PositionalFile.open(path, readOnly, exclusive);
        try {
            return new RawFileNode(file, openNative(path, readOnly), readOnly);
        } catch (BlockIOException | RuntimeException e) {
            try {
                file.close();
            } catch (BlockIOException closeError) {
                e.addSuppressed(closeError);
            }
            throw e;
        }
    }

    private static NativeFile openNative(Path path, boolean readOnly) {
        try {
            return NativeFile.open(path, readOnly);
        } catch (IOException | RuntimeException | LinkageError e) {
            LOG.log(Level.WARNING, "{0}: no native file access ({1}); discard and hole detection are off",
                    path, e.toString());
            return null;
        }
    }

    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return sizeBytes;
    }

    @Override
    public Capabilities capabilities() {
        return capabilities;
    }

    @Override
    public String describe() {
        return "raw:" + path;
    }

    /** What a concurrent truncation cut off reads as zeroes. */
    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        file.readZeroFilled(offset, dst);
    }

    /**
     * The file's own bytes. Unlike {@link #read}, a span of a file someone shortened behind this
     * node fails when it is sent (the connection closes) instead of reading as zeroes: asking the
     * file's size first would cost a system call per read.
     */
    @Override
    public FileSpan fileSpan(long offset, int length) {
        return file.span(offset, length);
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        file.writeFully(offset, src);
        if (flags.contains(WriteFlag.FUA)) {
            file.syncData();
        }
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        if (length == 0) {
            return;
        }
        boolean done = false;
        if (flags.contains(WriteFlag.MAY_UNMAP)) {
            done = tryFallocate(NativeFile.FALLOC_FL_PUNCH_HOLE | NativeFile.FALLOC_FL_KEEP_SIZE, offset, length);
        }
        if (!done) {
            done = tryZeroRange(offset, length);
        }
        if (!done) {
            if (flags.contains(WriteFlag.FAST_ZERO)) {
                throw new BlockIOException(Errno.ENOTSUP, path + ": the file system cannot zero without writing");
            }
            writeZeroBuffers(offset, length);
        }
        if (flags.contains(WriteFlag.FUA)) {
            flush();
        }
    }

    /**
     * Punches a hole. Where the file system refuses, the range is left as it is: discard is a
     * hint, and writing zeroes would allocate what the caller wanted freed.
     */
    @Override
    public void discard(long offset, long length) throws BlockIOException {
        if (length > 0) {
            punchOrIgnore(offset, length);
        }
    }

    @Override
    public void flush() throws BlockIOException {
        file.syncData();
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        long end = offset + length;
        if (nativeFile == null || length == 0 || !mayHaveHoles) {
            return List.of(new Extent(offset, Math.max(1, length), true, false, 1));
        }
        List<Extent> extents = new ArrayList<>();
        long pos = offset;
        try {
            while (pos < end && extents.size() < MAX_EXTENTS_PER_CALL) {
                long data = nativeFile.seekData(pos);
                if (data < 0 || data >= end) {
                    extents.add(hole(pos, end - pos));
                    break;
                }
                if (data > pos) {
                    extents.add(hole(pos, data - pos));
                    pos = data;
                    continue;
                }
                long hole = Math.min(nativeFile.seekHole(pos), end);
                if (hole <= pos) {
                    // the file was shortened behind our back: treat the rest as data
                    hole = end;
                }
                extents.add(new Extent(pos, hole - pos, true, false, 1));
                pos = hole;
            }
        } catch (IOException e) {
            throw PositionalFile.ioError("block status of " + path + " at " + pos, e);
        }
        return extents;
    }

    private static Extent hole(long offset, long length) {
        return new Extent(offset, length, false, true, 1);
    }

    @Override
    public void close() throws BlockIOException {
        try {
            if (file.isOpen() && capabilities.canWrite()) {
                file.syncData();
            }
        } finally {
            if (nativeFile != null) {
                nativeFile.close();
            }
            file.close();
        }
    }

    private void punchOrIgnore(long offset, long length) throws BlockIOException {
        tryFallocate(NativeFile.FALLOC_FL_PUNCH_HOLE | NativeFile.FALLOC_FL_KEEP_SIZE, offset, length);
    }

    private boolean tryZeroRange(long offset, long length) throws BlockIOException {
        if (zeroRangeRefused) {
            return false;
        }
        boolean ok = tryFallocate(NativeFile.FALLOC_FL_ZERO_RANGE | NativeFile.FALLOC_FL_KEEP_SIZE, offset, length);
        if (!ok) {
            zeroRangeRefused = true;
        }
        return ok;
    }

    /** True when fallocate did it; false when the file system does not support the mode. */
    private boolean tryFallocate(int mode, long offset, long length) throws BlockIOException {
        if (nativeFile == null || (punchRefused && (mode & NativeFile.FALLOC_FL_PUNCH_HOLE) != 0)) {
            return false;
        }
        // before the call, so that no block status after it can miss a hole: a punch makes one,
        // and lseek reports a zeroed range's unwritten extents as a hole too
        mayHaveHoles = true;
        int errno = nativeFile.fallocate(mode, offset, length);
        if (errno == 0) {
            return true;
        }
        if (errno == NativeFile.EOPNOTSUPP || errno == NativeFile.ENOSYS) {
            if ((mode & NativeFile.FALLOC_FL_PUNCH_HOLE) != 0 && !punchRefused) {
                punchRefused = true;
                LOG.log(Level.INFO, "{0}: the file system cannot punch holes; discards will not free space", path);
            }
            return false;
        }
        Errno code = errno == NativeFile.ENOSPC ? Errno.ENOSPC : Errno.EIO;
        throw new BlockIOException(code, "fallocate " + path + " [" + offset + ", +" + length + ") failed: errno " + errno);
    }

    private void writeZeroBuffers(long offset, long length) throws BlockIOException {
        for (long pos = offset; pos < offset + length; pos += ZERO_CHUNK) {
            ByteBuffer chunk = ZEROES.duplicate();
            chunk.limit((int) Math.min(ZERO_CHUNK, offset + length - pos));
            file.writeFully(pos, chunk);
        }
    }
}
