package org.fleeced.restore;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;
import org.fleeced.bitmaps.ByteRange;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.tracking.DurableRename;

/**
 * Which clusters of an image being restored already hold their data, one bit per cluster, kept
 * durable in the sidecar {@code IMAGE.fleeced-restore}.
 *
 * <h2>Crash safety</h2>
 * A bit is set in memory only after the cluster's data write into the image returned
 * ({@link #mark}). {@link #persist} takes a copy of the bits first, then flushes the image, then
 * writes the copy: every bit the file holds names data that was on stable storage before the file
 * was written, so a crash never marks unrestored data restored. A crash may forget marks made
 * since the last persist; those clusters are fetched from the source again, which is harmless
 * for what the guest has not read (its own writes there were not flushed either: a guest flush
 * persists).
 *
 * <h2>Group commit</h2>
 * What the guest has read must not be fetched again after a crash (it may have acted on it), so a
 * read of clusters whose marks the file does not hold yet waits in {@link #commit} before it is
 * answered. Commits share one image flush and one file write: a reader takes the persist lock,
 * and when the persist it waited behind already covered its clusters ({@code durable}), it
 * returns without I/O; otherwise its own persist covers every mark made meanwhile, so readers
 * that queue behind it return at once.
 *
 * <h2>Layout</h2>
 * Big-endian: magic {@code FLRESTOR}, u32 version 1, u64 image size, u32 log2 cluster size,
 * u16 length and UTF-8 text of the source (what the daemon needs to resume), u32 run count,
 * runs of restored (u64 offset, u64 length) in ascending order inside the image, then a u32
 * CRC32C of every byte before it. Rewritten whole through {@link DurableRename}. A file that
 * fails any check is EIO naming it: never trusted, left as it is.
 */
public final class RestoredClusters {
    static final long MAGIC = 0x464c524553544f52L; // "FLRESTOR"
    static final int VERSION = 1;
    private static final String SUFFIX = ".fleeced-restore";
    private static final long MAX_BYTES = 1L << 30;

    private final Path file;
    private final String source;
    /** The restored clusters; set only, never reset. Thread-safe by itself. */
    private final DirtyBitmap restored;
    /** Serializes persists, so that an older copy never overwrites a newer one. */
    private final ReentrantLock persisting = new ReentrantLock();
    /** Bumped by every mark after its bits are set; read under persisting to skip a rewrite when nothing changed. */
    private final AtomicLong version = new AtomicLong();
    /** The version the file holds. Guarded by persisting. */
    private long persistedVersion = -1;
    /**
     * The bits the file holds (a subset of {@code restored}): replaced under persisting after each
     * write, read without it by the commit's fast path.
     */
    private volatile DirtyBitmap durable;

    private RestoredClusters(Path file, String source, DirtyBitmap restored) {
        this.file = file;
        this.source = source;
        this.restored = restored;
    }

    /** The sidecar of the image at {@code image}. */
    public static Path sidecarFor(Path image) {
        return image.resolveSibling(image.getFileName() + SUFFIX);
    }

    /** A new, empty map for a restore of {@code source} into the image, written before it returns. */
    public static RestoredClusters create(Path image, long sizeBytes, long clusterBytes, String source)
            throws BlockIOException {
        if (source.getBytes(StandardCharsets.UTF_8).length > 0xffff) {
            throw new IllegalArgumentException("a restore source described in more than 64 KiB: " + source.substring(0, 80));
        }
        RestoredClusters map = new RestoredClusters(sidecarFor(image), source, new DirtyBitmap(sizeBytes, clusterBytes));
        map.durable = map.restored.copy();
        map.writeFile(map.durable);
        map.persistedVersion = 0;
        return map;
    }

    /**
     * The source of the restore under way into the image, or null when it has none: what a
     * restarted daemon opens again before it opens the image. The whole file is checked.
     */
    public static String pendingSource(Path image) throws BlockIOException {
        RestoredClusters map = load(image, -1);
        return map == null ? null : map.source;
    }

    /** The map of a restore that was under way, or null when the image has none; {@code sizeBytes} -1 takes the file's. */
    public static RestoredClusters load(Path image, long sizeBytes) throws BlockIOException {
        Path file = sidecarFor(image);
        byte[] data;
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw damaged(file, Files.size(file) + " bytes, more than fleeced ever writes");
            }
            data = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot read the restore state " + file + ": " + e.getMessage(), e);
        }
        if (data.length < 36) {
            throw damaged(file, "truncated to " + data.length + " bytes");
        }
        CRC32C crc = new CRC32C();
        crc.update(data, 0, data.length - 4);
        if ((int) crc.getValue() != ByteBuffer.wrap(data).getInt(data.length - 4)) {
            throw damaged(file, "checksum mismatch (torn, truncated or changed by hand)");
        }
        ByteBuffer b = ByteBuffer.wrap(data, 0, data.length - 4).slice();
        try {
            if (b.getLong() != MAGIC || b.getInt() != VERSION) {
                throw damaged(file, "not a version " + VERSION + " fleeced restore state");
            }
            long size = b.getLong();
            int clusterBits = b.getInt();
            if (sizeBytes == -1 && size >= 0) {
                sizeBytes = size;
            }
            if (size != sizeBytes) {
                throw damaged(file, "written for an image of " + size + " bytes, the image has " + sizeBytes);
            }
            if (clusterBits < 9 || clusterBits > 31) {
                throw damaged(file, "cluster size 2^" + clusterBits);
            }
            byte[] text = new byte[Short.toUnsignedInt(b.getShort())];
            b.get(text);
            DirtyBitmap bits = new DirtyBitmap(sizeBytes, 1L << clusterBits);
            long runs = Integer.toUnsignedLong(b.getInt());
            if (runs != b.remaining() / 16 || b.remaining() % 16 != 0) {
                throw damaged(file, "claims " + runs + " runs in " + b.remaining() + " bytes");
            }
            long end = 0;
            for (long r = 0; r < runs; r++) {
                long offset = b.getLong();
                long length = b.getLong();
                if (offset < end || length <= 0 || offset > sizeBytes - length) {
                    throw damaged(file, "a run [" + offset + ", +" + length + ") outside the image or out of order");
                }
                bits.set(offset, length);
                end = offset + length;
            }
            RestoredClusters map = new RestoredClusters(file, new String(text, StandardCharsets.UTF_8), bits);
            map.durable = bits.copy();
            map.persistedVersion = 0;
            return map;
        } catch (BufferUnderflowException e) {
            throw damaged(file, "a length runs past the end of the file");
        }
    }

    /** What the restore reads from, as the daemon described it at the start. */
    public String source() {
        return source;
    }

    public long sizeBytes() {
        return restored.sizeBytes();
    }

    public long clusterBytes() {
        return restored.granularity();
    }

    public boolean isRestored(long offset) {
        return restored.get(offset);
    }

    public boolean anyUnrestored(long offset, long length) {
        return length > 0 && restored.nextClean(offset, offset + length) >= 0;
    }

    /** The first unrestored byte in {@code [offset, end)}, or -1. */
    public long nextUnrestored(long offset, long end) {
        return restored.nextClean(offset, end);
    }

    /** The first restored byte in {@code [offset, end)}, or -1. */
    public long nextRestored(long offset, long end) {
        return restored.nextDirty(offset, end);
    }

    /** The restored runs inside {@code [offset, offset + length)}. */
    public List<ByteRange> restoredRuns(long offset, long length) {
        return restored.dirtyExtents(offset, length, Integer.MAX_VALUE);
    }

    public long restoredBytes() {
        return Math.min(restored.dirtyBytes(), sizeBytes());
    }

    public boolean complete() {
        return restored.nextClean(0, sizeBytes()) < 0;
    }

    /** Marks the clusters of {@code [offset, offset + length)} restored: call only after their data write returned. */
    public void mark(long offset, long length) {
        restored.set(offset, length);
        version.incrementAndGet();
    }

    /** Whether the file holds the marks of every cluster of {@code [offset, offset + length)}. */
    public boolean isDurable(long offset, long length) {
        return length <= 0 || durable.nextClean(offset, offset + length) < 0;
    }

    /**
     * Returns once the file holds the marks of every restored cluster of {@code [offset, offset +
     * length)}, persisting (with {@code image}'s flush) only when no persist already covered them:
     * the group commit of the class note. Unrestored clusters in the range are not waited for.
     */
    public void commit(BlockNode image, long offset, long length) throws BlockIOException {
        if (isDurable(offset, length)) {
            return;
        }
        persisting.lock();
        try {
            if (!coveredLocked(offset, length)) {
                persistLocked(image);
            }
        } finally {
            persisting.unlock();
        }
    }

    /** Flushes {@code image} and writes the marks made before the flush (see the class note). */
    public void persist(BlockNode image) throws BlockIOException {
        persisting.lock();
        try {
            persistLocked(image);
        } finally {
            persisting.unlock();
        }
    }

    /** Whether every restored cluster of the range is durable. */
    private boolean coveredLocked(long offset, long length) {
        long end = offset + length;
        for (ByteRange run : restored.dirtyExtents(offset, length, Integer.MAX_VALUE)) {
            long from = Math.max(run.offset(), offset);
            if (!isDurable(from, Math.min(run.end(), end) - from)) {
                return false;
            }
        }
        return true;
    }

    private void persistLocked(BlockNode image) throws BlockIOException {
        long v = version.get();
        DirtyBitmap copy = restored.copy();
        image.flush();
        if (v != persistedVersion) {
            writeFile(copy);
            durable = copy;
            persistedVersion = v;
        }
    }

    /** Deletes the sidecar: the restore is over and the image stands alone. */
    public void delete() throws BlockIOException {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot delete the restore state " + file + ": " + e.getMessage(), e);
        }
    }

    public Path file() {
        return file;
    }

    private void writeFile(DirtyBitmap bits) throws BlockIOException {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeLong(MAGIC);
            out.writeInt(VERSION);
            out.writeLong(bits.sizeBytes());
            out.writeInt(Long.numberOfTrailingZeros(bits.granularity()));
            byte[] text = source.getBytes(StandardCharsets.UTF_8);
            out.writeShort(text.length);
            out.write(text);
            List<ByteRange> runs = bits.dirtyExtents(0, bits.sizeBytes(), Integer.MAX_VALUE);
            out.writeInt(runs.size());
            for (ByteRange r : runs) {
                out.writeLong(r.offset());
                out.writeLong(Math.min(r.length(), bits.sizeBytes() - r.offset()));
            }
            CRC32C crc = new CRC32C();
            crc.update(bytes.toByteArray());
            out.writeInt((int) crc.getValue());
            ByteBuffer all = ByteBuffer.wrap(bytes.toByteArray());
            try (FileChannel written = DurableRename.replace(file, ch -> {
                while (all.hasRemaining()) {
                    ch.write(all);
                }
            })) {
                // written, synced and renamed: the channel only needs closing
            }
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot write the restore state " + file + ": " + e.getMessage(), e);
        }
    }

    private static BlockIOException damaged(Path file, String why) {
        return new BlockIOException(Errno.EIO, "the restore state " + file + " is damaged: " + why);
    }
}
