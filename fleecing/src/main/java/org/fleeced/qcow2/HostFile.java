package org.fleeced.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * The image's host file: positional reads and writes that either complete or raise
 * {@link BlockIOException}, fsync, and the advisory lock that keeps a second writer out.
 *
 * <p>Thread-safe: positional FileChannel I/O needs no lock.
 */
final class HostFile implements AutoCloseable {
    private final Path path;
    private final FileChannel channel;
    private final FileLock lock;

    private HostFile(Path path, FileChannel channel, FileLock lock) {
        this.path = path;
        this.channel = channel;
        this.lock = lock;
    }

    /** Opens the file; read-write files are locked exclusively, and a held lock is a clear EPERM. */
    static HostFile open(Path path, boolean readOnly) throws BlockIOException {
        FileChannel channel;
        try {
            channel = readOnly ? FileChannel.open(path, StandardOpenOption.READ)
                    : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot open " + path + ": " + e, e);
        }
        if (readOnly) {
            return new HostFile(path, channel, null);
        }
        try {
            FileLock lock = channel.tryLock();
            if (lock == null) {
                throw new IOException("locked by another process");
            }
            return new HostFile(path, channel, lock);
        } catch (IOException | OverlappingFileLockException e) {
            closeQuietly(channel, e);
            throw new BlockIOException(Errno.EPERM, path + " is in use: another writer holds its lock ("
                    + e.getMessage() + "); open it read-only or stop the other writer", e);
        }
    }

    Path path() {
        return path;
    }

    long size() throws BlockIOException {
        try {
            return channel.size();
        } catch (IOException e) {
            throw ioError("size", e);
        }
    }

    /** Reads exactly {@code dst.remaining()} bytes; reading past the end of the file is EIO. */
    void readFully(long position, ByteBuffer dst) throws BlockIOException {
        long pos = position;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, pos);
                if (n < 0) {
                    throw new BlockIOException(Errno.EIO, path + ": read at " + pos + " past the end of the file");
                }
                pos += n;
            }
        } catch (IOException e) {
            throw ioError("read at " + position, e);
        }
    }

    /**
     * Reads guest data: like {@link #readFully}, but the part past the end of the file reads as
     * zeroes (a cluster may be allocated and counted before its data reaches the file).
     */
    void readData(long position, ByteBuffer dst) throws BlockIOException {
        long pos = position;
        try {
            while (dst.hasRemaining()) {
                int n = channel.read(dst, pos);
                if (n < 0) {
                    while (dst.hasRemaining()) {
                        dst.put((byte) 0);
                    }
                    return;
                }
                pos += n;
            }
        } catch (IOException e) {
            throw ioError("read at " + position, e);
        }
    }

    void writeFully(long position, ByteBuffer src) throws BlockIOException {
        long pos = position;
        try {
            while (src.hasRemaining()) {
                pos += channel.write(src, pos);
            }
        } catch (IOException e) {
            throw ioError("write at " + position, e);
        }
    }

    /** fsync: every completed write, data and metadata, is on stable storage when this returns. */
    void sync() throws BlockIOException {
        try {
            channel.force(true);
        } catch (IOException e) {
            throw ioError("fsync", e);
        }
    }

    void truncate(long size) throws BlockIOException {
        try {
            if (channel.size() < size) {
                channel.write(ByteBuffer.allocate(1), size - 1);
            } else {
                channel.truncate(size);
            }
        } catch (IOException e) {
            throw ioError("truncate to " + size, e);
        }
    }

    private BlockIOException ioError(String what, IOException e) {
        String message = String.valueOf(e.getMessage());
        Errno errno = message.contains("No space left") || message.contains("quota") ? Errno.ENOSPC : Errno.EIO;
        return new BlockIOException(errno, path + ": " + what + " failed: " + e, e);
    }

    @Override
    public void close() throws BlockIOException {
        try {
            if (lock != null && lock.isValid()) {
                lock.release();
            }
            channel.close();
        } catch (IOException e) {
            throw ioError("close", e);
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
