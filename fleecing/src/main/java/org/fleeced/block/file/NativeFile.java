package org.fleeced.block.file;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout.PathElement;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * The Linux file calls Java's FileChannel lacks, through the Foreign Function &amp; Memory API:
 * {@code fallocate} (punch a hole, zero a range) and {@code lseek} (SEEK_DATA, SEEK_HOLE).
 *
 * <p>It holds its own descriptor of the file, opened beside the FileChannel that does the data
 * I/O: both name the same inode, so holes punched here are seen there. {@code lseek} moves this
 * descriptor's position, which nothing else uses, so concurrent calls are safe: each returns its
 * own answer.
 */
final class NativeFile implements AutoCloseable {
    private static final int O_RDONLY = 0;
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    static final int FALLOC_FL_KEEP_SIZE = 0x01;
    static final int FALLOC_FL_PUNCH_HOLE = 0x02;
    static final int FALLOC_FL_ZERO_RANGE = 0x10;
    private static final int SEEK_DATA = 3;
    private static final int SEEK_HOLE = 4;
    static final int EINTR = 4;
    static final int ENXIO = 6;
    static final int ENOSPC = 28;
    static final int ENOSYS = 38;
    static final int EOPNOTSUPP = 95;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(PathElement.groupElement("errno"));
    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
    private static final MethodHandle CLOSE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("close").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    /*
     * Linking a downcall generates code (tens of milliseconds each), so the calls an image may
     * never need are linked on first use: fallocate on the first discard or zeroing, lseek on the
     * first block status.
     */
    private static final class Fallocate {
        static final MethodHandle HANDLE = downcall("fallocate",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    }

    private static final class Lseek {
        static final MethodHandle HANDLE = downcall("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    }

    private final int fd;

    private NativeFile(int fd) {
        this.fd = fd;
    }

    static NativeFile open(Path path, boolean readOnly) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            MemorySegment cPath = arena.allocateFrom(path.toString());
            int flags = (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
            int fd = (int) OPEN.invokeExact(state, cPath, flags, 0);
            if (fd < 0) {
                throw new IOException("open(" + path + ") failed: errno " + errno(state));
            }
            return new NativeFile(fd);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("open(" + path + ") failed", t);
        }
    }

    /** fallocate(2); returns 0 or the errno. Retries EINTR. */
    int fallocate(int mode, long offset, long length) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            while (true) {
                int rc = (int) Fallocate.HANDLE.invokeExact(state, fd, mode, offset, length);
                if (rc == 0) {
                    return 0;
                }
                int errno = errno(state);
                if (errno != EINTR) {
                    return errno;
                }
            }
        } catch (Throwable t) {
            throw new IllegalStateException("fallocate call failed", t);
        }
    }

    /** The first data byte at or after offset, or -1 when only a hole follows (ENXIO). */
    long seekData(long offset) throws IOException {
        return seek(offset, SEEK_DATA);
    }

    /** The first hole byte at or after offset (the end of the file counts as a hole). */
    long seekHole(long offset) throws IOException {
        return seek(offset, SEEK_HOLE);
    }

    private long seek(long offset, int whence) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CAPTURE_LAYOUT);
            long rc = (long) Lseek.HANDLE.invokeExact(state, fd, offset, whence);
            if (rc >= 0) {
                return rc;
            }
            int errno = errno(state);
            if (errno == ENXIO) {
                return -1;
            }
            throw new IOException("lseek(" + offset + ", " + (whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE")
                    + ") failed: errno " + errno);
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IOException("lseek call failed", t);
        }
    }

    @Override
    public void close() {
        try {
            // close(2) releases the descriptor even when it reports an error; nothing to retry
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new IllegalStateException("close call failed", t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    private static MethodHandle downcall(String name, FunctionDescriptor descriptor, Linker.Option... extra) {
        Linker.Option[] options = new Linker.Option[extra.length + 1];
        options[0] = Linker.Option.captureCallState("errno");
        System.arraycopy(extra, 0, options, 1, extra.length);
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new IllegalStateException("libc has no " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }
}
