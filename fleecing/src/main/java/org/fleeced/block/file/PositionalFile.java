package org.fleeced.block.file;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.FileSpan;

/**
 * An open file with positional I/O that either completes or raises {@link BlockIOException}:
 * what both file-level users share, the raw image node ({@link RawFileNode}) and the qcow2
 * driver's image and backing files. Reads and writes loop until the buffer is done; fsync comes
 * as data-only ({@link #syncData}, what a guest flush needs) and full ({@link #sync}, what
 * metadata ordering needs); a writer may hold the advisory lock that keeps a second writer out.
 *
 * <p>File-system errors keep their meaning: a full disk, a quota or a file too large is ENOSPC,
 * anything else EIO. Thread-safe: positional {@code FileChannel} I/O needs no lock.
 */
public final class PositionalFile implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    /** The exclusive lock of a writer that asked for one, else null. */
    private final FileLock lock;
    private final SyncProgress syncs = new SyncProgress();

    private PositionalFile(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Opens an existing file. With {@code exclusive} (only for writing) it takes an exclusive
     * lock; a lock held elsewhere is EPERM, a clear "in use".
     */
    public static PositionalFile open(Path path, boolean readOnly, boolean exclusive) throws BlockIOException {
        FileChannel channel;
        try {
            channel = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                    : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw ioError("open " + path, e);
        }
        if (readOnly || !exclusive) {
            return new PositionalFile(path, channel, null);
        }
        String holder;
        Exception cause = null;
        try {
            FileLock lock = channel.tryLock();
            if (lock != null) {
                return new PositionalFile(path, channel, lock);
            }
            holder = FileLockHolder.of(path);
        } catch (OverlappingFileLockException e) {
            holder = "this daemon (another open of the same file)";
            cause = e;
        } catch (IOException e) {
            holder = FileLockHolder.of(path) + "; taking the lock failed: " + e.getMessage();
            cause = e;
        }
        BlockIOException inUse = new BlockIOException(Errno.EPERM, path + " is in use: another writer holds its lock ("
                + holder + "); open it read-only or stop the other writer", cause);
        closeQuietly(channel, inUse);
        throw inUse;
    }

    public Path path() {
        return path;
    }

    public long size() throws BlockIOException {
        try {
            return channel.size();
        } catch (IOException e) {
            throw ioError(path + ": size", e);
        }
    }

    /** Reads exactly {@code dst.remaining()} bytes; reading past the end of the file is EIO. */
    public void readFully(long position, ByteBuffer dst) throws BlockIOException {
        if (readUpToEnd(position, dst)) {
            throw new BlockIOException(Errno.EIO, path + ": read at " + position + " past the end of the file");
        }
    }

    /**
     * Reads like {@link #readFully}, but what lies past the end of the file reads as zeroes (a
     * file shortened behind our back, or a qcow2 cluster counted before its data reached the file).
     */
    public void readZeroFilled(long position, ByteBuffer dst) throws BlockIOException {
        if (readUpToEnd(position, dst)) {
            while (dst.hasRemaining()) {
                dst.put((byte) 0);
            }
        }
    }

    /** {@code [position, position + length)} of this file as a span to send; it holds nothing open. */
    public FileSpan span(long position, int length) {
        return new FileSpan(channel, position, length, () -> { });
    }

    /** Fills {@code dst} or stops at the end of the file: true when it stopped there. */
    private boolean readUpToEnd(long position, ByteBuffer dst) throws BlockIOException {
        long pos = position;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, pos);
                if (n < 0) {
                    return true;
                }
                pos += n;
            }
            return false;
        } catch (IOException e) {
            throw ioError(path + ": read at " + pos, e);
        }
    }

    public void writeFully(long position, ByteBuffer src) throws BlockIOException {
        long pos = position;
        try {
            while (src.hasRemaining()) {
                pos += channel.write(src, pos);
            }
        } catch (IOException e) {
            throw ioError(path + ": write at " + pos, e);
        }
    }

    /** What the completed syncs of this file made durable: for writers that do not sync themselves. */
    public SyncProgress syncs() {
        return syncs;
    }

    /** fsync: every completed write, data and metadata, is on stable storage when this returns. */
    public void sync() throws BlockIOException {
        force(true);
    }

    /** fdatasync: the data written so far (and what is needed to read it back) is stable. */
    public void syncData() throws BlockIOException {
        force(false);
    }

    private void force(boolean metadata) throws BlockIOException {
        try {
            long number = syncs.starting();
            channel.force(metadata);
            syncs.completed(number);
        } catch (IOException e) {
            throw ioError(path + ": " + (metadata ? "fsync" : "fdatasync"), e);
        }
    }

    /** Sets the file's size: grows it by writing its last byte, or cuts it. */
    public void truncate(long size) throws BlockIOException {
        try {
            if (channel.size() < size) {
                channel.write(ByteBuffer.allocate(1), size - 1);
            } else {
                channel.truncate(size);
            }
        } catch (IOException e) {
            throw ioError(path + ": truncate to " + size, e);
        }
    }

    public boolean isOpen() {
        return channel.isOpen();
    }

    /** Releases the lock and closes the file; later calls do nothing. */
    @Override
    public void close() throws BlockIOException {
        try {
            if (lock != null && lock.isValid()) {
                lock.release();
            }
            channel.close();
        } catch (IOException e) {
            throw ioError(path + ": close", e);
        }
    }

    /**
     * The one mapping of file-system errors: a full disk or a quota is ENOSPC, a file larger than
     * the file system allows is EFBIG, anything else EIO.
     */
    public static BlockIOException ioError(String what, IOException e) {
        String message = String.valueOf(e.getMessage());
        Errno errno = message.contains("File too large") ? Errno.EFBIG
                : message.contains("No space left") || message.contains("quota") ? Errno.ENOSPC : Errno.EIO;
        return new BlockIOException(errno, what + " failed: " + e, e);
    }

    /**
     * Deletes a file this process just created and failed to fill, so that a failed create
     * leaves nothing behind; a failure to delete is added to {@code primary}.
     */
    public static void deleteCreated(Path path, Exception primary) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            primary.addSuppressed(e);
        }
    }

    private static void closeQuietly(FileChannel channel, Exception primary) {
        try {
            channel.close();
        } catch (IOException e) {
            primary.addSuppressed(e);
        }
    }
}
