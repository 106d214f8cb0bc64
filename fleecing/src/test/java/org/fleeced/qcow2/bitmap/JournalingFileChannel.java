package org.fleeced.qcow2.bitmap;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;

/**
 * A file channel that reports every write and truncate to its {@link PowerLossFileSystem}
 * before doing it, and every force after it, so that a simulated power loss can drop what was
 * not forced. After the power loss every call fails with IOException, as on a dead machine.
 */
final class JournalingFileChannel extends FileChannel {
    private final PowerLossFileSystem fs;
    /** The real file, renamed along when the file system moves it. Guarded by the file system's lock. */
    private Path file;
    private final FileChannel real;
    private long position;

    JournalingFileChannel(PowerLossFileSystem fs, Path file, FileChannel real) {
        this.fs = fs;
        this.file = file;
        this.real = real;
    }

    FileChannel real() {
        return real;
    }

    Path file() {
        return file;
    }

    void renamed(Path to) {
        file = to;
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        int n = read(dst, position);
        if (n > 0) {
            position += n;
        }
        return n;
    }

    @Override
    public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        long total = 0;
        for (int i = offset; i < offset + length; i++) {
            int n = read(dsts[i]);
            if (n < 0) {
                return total == 0 ? -1 : total;
            }
            total += n;
        }
        return total;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
        int n = write(src, position);
        position += n;
        return n;
    }

    @Override
    public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        long total = 0;
        for (int i = offset; i < offset + length; i++) {
            total += write(srcs[i]);
        }
        return total;
    }

    @Override
    public long position() {
        return position;
    }

    @Override
    public FileChannel position(long newPosition) {
        position = newPosition;
        return this;
    }

    @Override
    public long size() throws IOException {
        fs.checkPower();
        return real.size();
    }

    @Override
    public FileChannel truncate(long size) throws IOException {
        fs.beforeTruncate(this, real, size);
        real.truncate(size);
        return this;
    }

    @Override
    public void force(boolean metaData) throws IOException {
        fs.force(this, real, metaData);
    }

    @Override
    public long transferTo(long pos, long count, WritableByteChannel target) {
        throw new UnsupportedOperationException("transferTo");
    }

    @Override
    public long transferFrom(ReadableByteChannel src, long pos, long count) {
        throw new UnsupportedOperationException("transferFrom");
    }

    @Override
    public int read(ByteBuffer dst, long pos) throws IOException {
        fs.checkPower();
        return real.read(dst, pos);
    }

    @Override
    public int write(ByteBuffer src, long pos) throws IOException {
        fs.beforeWrite(this, real, pos, src.duplicate());
        return real.write(src, pos);
    }

    @Override
    public MappedByteBuffer map(MapMode mode, long pos, long size) {
        throw new UnsupportedOperationException("map");
    }

    @Override
    public FileLock lock(long pos, long size, boolean shared) throws IOException {
        return wrapLock(real.lock(pos, size, shared));
    }

    @Override
    public FileLock tryLock(long pos, long size, boolean shared) throws IOException {
        return wrapLock(real.tryLock(pos, size, shared));
    }

    private FileLock wrapLock(FileLock lock) {
        if (lock == null) {
            return null;
        }
        return new FileLock(this, lock.position(), lock.size(), lock.isShared()) {
            @Override
            public boolean isValid() {
                return lock.isValid();
            }

            @Override
            public void release() throws IOException {
                lock.release();
            }
        };
    }

    @Override
    protected void implCloseChannel() throws IOException {
        real.close();
        fs.closed(this);
    }
}
