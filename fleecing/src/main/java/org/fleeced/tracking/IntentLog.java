package org.fleeced.tracking;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * A write-intent log beside an image (md RAID's write-intent bitmap, applied to dirty bitmaps):
 * before the first write into a coarse region of the disk, the region is marked in a sidecar file
 * and the mark is made durable. After a crash or a power loss, every region that may have been
 * written since the bitmaps were last stored in the image is marked, so the stored bitmaps plus
 * the marked regions are a superset of the real changes.
 *
 * <h2>Sidecar layout</h2>
 * Little-endian. Page 0: magic {@code FLINTENT}, u32 version 1, u32 regionBits, u64 imageSize,
 * u64 identity (chosen by the caller to tie the log to one image). Then two region maps of equal
 * size, each page-aligned: one bit per region, LSB first. One map is active (receives marks); the
 * other is retired and clear. Recovery ORs both, so it never needs to know which was active.
 *
 * <h2>Epochs</h2>
 * The image's bitmaps are stored from time to time. {@link #switchEpoch()} makes the clear map
 * active, waiting for writers that marked the old map to leave their {@link Mark} (by then they
 * have recorded their write in the in-memory bitmaps). A copy of the bitmaps taken after the
 * switch covers everything the old map covers; once it is stored and the image flushed,
 * {@link Epoch#retire()} clears the old map. The new map starts with the regions written during
 * the ended epoch (one sync, instead of one per hot region right after the switch), so a region
 * leaves the log once a whole epoch passes without a write to it.
 *
 * <h2>Thread safety</h2>
 * Marks from many threads are safe. {@code epochLock} (read side held by each {@link Mark})
 * orders marks against epoch switches; {@code markLock} serializes the slow path that writes and
 * syncs the sidecar.
 */
public final class IntentLog implements AutoCloseable {
    static final long MAGIC = 0x544e45544e494c46L; // "FLINTENT" read little-endian
    static final int VERSION = 1;
    static final int PAGE = 4096;
    static final int MIN_REGION_BITS = 16;
    static final int MAX_REGION_BITS = 40;

    private final Path path;
    private final FileChannel channel;
    private final int regionBits;
    private final long regions;
    private final long mapBytes;
    private final ReentrantReadWriteLock epochLock = new ReentrantReadWriteLock();
    private final ReentrantLock markLock = new ReentrantLock();
    /**
     * Regions marked durably in each map, one bit per region. A bit is set only after its mark is
     * on stable storage (under markLock); reads take no lock.
     */
    private final AtomicLongArray[] durable;
    /**
     * Regions written in the current epoch, marked or not: set on every {@link #mark}, so that
     * the next epoch's map starts with them (see {@link #switchEpoch()}). Not durable.
     */
    private final AtomicLongArray touched;
    /** Index of the map that receives marks. Changed only under the epochLock write lock. */
    private volatile int active;
    /** An ended epoch whose map is not yet clear; a second switch must wait for its retirement. */
    private volatile Epoch unretired;

    private IntentLog(Path path, FileChannel channel, int regionBits, long imageSize) {
        this.path = path;
        this.channel = channel;
        this.regionBits = regionBits;
        this.regions = Math.max(1, (imageSize + (1L << regionBits) - 1) >>> regionBits);
        this.mapBytes = Alignment.alignUp((regions + 7) / 8, PAGE);
        int words = (int) ((regions + 63) / 64);
        this.durable = new AtomicLongArray[] {new AtomicLongArray(words), new AtomicLongArray(words)};
        this.touched = new AtomicLongArray(words);
    }

    /**
     * Creates (or replaces) the sidecar with both maps clear, durably, for an image of
     * {@code imageSize} bytes with regions of {@code 2^regionBits} bytes.
     *
     * <p>The new sidecar is written beside the old one and renamed over it, so a crash leaves
     * either the old sidecar, whole, or the new one: never a truncated file that would make
     * {@link #recover} distrust the image's bitmaps.
     */
    public static IntentLog create(Path path, long imageSize, int regionBits, long identity) throws BlockIOException {
        if (regionBits < MIN_REGION_BITS || regionBits > MAX_REGION_BITS) {
            throw new IllegalArgumentException("regionBits " + regionBits + " outside 16..40");
        }
        Path temp = rewriteOf(path);
        FileChannel ch = null;
        try {
            ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
            IntentLog shape = new IntentLog(path, null, regionBits, imageSize);
            ByteBuffer header = ByteBuffer.allocate(PAGE).order(ByteOrder.LITTLE_ENDIAN);
            header.putLong(MAGIC).putInt(VERSION).putInt(regionBits).putLong(imageSize).putLong(identity);
            header.clear();
            writeFully(ch, header, 0);
            // Both maps written as zeroes, not left sparse: a mark then overwrites allocated
            // blocks, and its fdatasync needs no file system metadata commit (which on ext4
            // would also wait for the image's own data writes).
            ByteBuffer zeroes = ByteBuffer.allocate((int) Math.min(2 * shape.mapBytes, 1 << 20));
            for (long done = 0; done < 2 * shape.mapBytes; done += zeroes.capacity()) {
                zeroes.clear().limit((int) Math.min(zeroes.capacity(), 2 * shape.mapBytes - done));
                writeFully(ch, zeroes, PAGE + done);
            }
            ch.force(true);
            Files.move(temp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            syncDirectory(path);
            return new IntentLog(path, ch, regionBits, imageSize);
        } catch (IOException e) {
            if (ch != null) {
                try {
                    ch.close();
                } catch (IOException closeError) {
                    e.addSuppressed(closeError);
                }
            }
            throw new BlockIOException(Errno.EIO, "cannot create the intent log " + path + ": " + e, e);
        }
    }

    /**
     * The region size for an image: 16 MiB, or larger so that there are at most 16384 regions.
     * Larger regions mean fewer sidecar syncs on the write path and a coarser superset after a
     * crash.
     */
    public static int defaultRegionBits(long imageSize) {
        int bits = 24;
        while (bits < MAX_REGION_BITS && (imageSize >>> bits) > 16384) {
            bits++;
        }
        return bits;
    }

    /**
     * Every file fleeced keeps beside an image is named {@code IMAGE.fleeced-KIND} (now only the
     * intent log), and is rewritten through {@code IMAGE.fleeced-KIND.new}: the one naming rule
     * the daemon uses to keep such files from being attached as disks.
     */
    private static final String SIDECAR_INFIX = ".fleeced-";

    /** The sidecar's name for an image: {@code IMAGE.fleeced-intent} in the image's directory. */
    public static Path sidecarFor(Path image) {
        return image.resolveSibling(image.getFileName() + SIDECAR_INFIX + "intent");
    }

    /** The files fleeced keeps beside {@code image}, present or not: the sidecar and its rewrite. */
    public static List<Path> sidecarsOf(Path image) {
        Path sidecar = sidecarFor(image);
        return List.of(sidecar, rewriteOf(sidecar));
    }

    /** Whether {@code file} is named as one of fleeced's sidecars (of any image, attached or not). */
    public static boolean isSidecar(Path file) {
        Path name = file.getFileName();
        return name != null && name.toString().contains(SIDECAR_INFIX);
    }

    private static Path rewriteOf(Path sidecar) {
        return sidecar.resolveSibling(sidecar.getFileName() + ".new");
    }

    /**
     * Reads a sidecar left by an earlier run: the regions either map marks, or null when there is
     * no sidecar or it belongs to another image (wrong identity or size) or is damaged.
     */
    public static RecoveredIntents recover(Path path, long imageSize, long identity) throws BlockIOException {
        if (!Files.exists(path)) {
            return null;
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer header = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
            if (ch.read(header, 0) < 32) {
                return null;
            }
            header.flip();
            if (header.getLong() != MAGIC || header.getInt() != VERSION) {
                return null;
            }
            int regionBits = header.getInt();
            long size = header.getLong();
            long id = header.getLong();
            if (regionBits < MIN_REGION_BITS || regionBits > MAX_REGION_BITS || size != imageSize || id != identity) {
                return null;
            }
            IntentLog shape = new IntentLog(path, null, regionBits, imageSize);
            if (ch.size() < PAGE + 2 * shape.mapBytes || shape.mapBytes > Integer.MAX_VALUE) {
                return null;
            }
            BitSet marked = new BitSet();
            for (int map = 0; map < 2; map++) {
                ByteBuffer bytes = ByteBuffer.allocate((int) shape.mapBytes);
                readFully(ch, bytes, PAGE + map * shape.mapBytes);
                marked.or(BitSet.valueOf(bytes.flip()));
            }
            return new RecoveredIntents(regionBits, imageSize, marked);
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot read the intent log " + path + ": " + e, e);
        }
    }

    public Path path() {
        return path;
    }

    public long regionSize() {
        return 1L << regionBits;
    }

    /**
     * Marks the regions {@code [offset, offset + length)} touches, durably, before the caller
     * writes there. The caller records the write in its bitmaps and then closes the mark (before
     * or after the data write); an epoch switch waits for open marks.
     */
    public Mark mark(long offset, long length) throws BlockIOException {
        epochLock.readLock().lock();
        boolean ok = false;
        try {
            if (length > 0) {
                int first = (int) (offset >>> regionBits);
                int last = (int) ((offset + length - 1) >>> regionBits);
                touch(first, last);
                if (!allSet(durable[active], first, last)) {
                    markSlow(first, last);
                }
            }
            ok = true;
            return epochLock.readLock()::unlock;
        } finally {
            if (!ok) {
                epochLock.readLock().unlock();
            }
        }
    }

    private void markSlow(int first, int last) throws BlockIOException {
        markLock.lock();
        try {
            AtomicLongArray bits = durable[active];
            if (allSet(bits, first, last)) {
                return;
            }
            long[] updated = new long[bits.length()];
            for (int w = first / 64; w <= last / 64; w++) {
                updated[w] = bits.get(w) | rangeMask(w, first, last);
            }
            writeMapWords(active, updated, first / 64, last / 64);
            channel.force(false);
            for (int w = first / 64; w <= last / 64; w++) {
                long add = updated[w];
                bits.getAndUpdate(w, old -> old | add);
            }
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot record write intent in " + path + ": " + e, e);
        } finally {
            markLock.unlock();
        }
    }

    private static boolean allSet(AtomicLongArray bits, int first, int last) {
        for (int w = first / 64; w <= last / 64; w++) {
            long mask = rangeMask(w, first, last);
            if ((bits.get(w) & mask) != mask) {
                return false;
            }
        }
        return true;
    }

    /** The bits of word {@code w} that lie in {@code [first, last]}. */
    private static long rangeMask(int w, int first, int last) {
        int lo = Math.max(first, w * 64) - w * 64;
        int hi = Math.min(last, w * 64 + 63) - w * 64;
        return (-1L >>> (63 - hi)) & (-1L << lo);
    }

    /** Regions marked in the active epoch's map: how much a crash now would add to the bitmaps. */
    public long activeMarkedRegions() {
        AtomicLongArray bits = durable[active];
        long count = 0;
        for (int w = 0; w < bits.length(); w++) {
            count += Long.bitCount(bits.get(w));
        }
        return count;
    }

    /**
     * Starts a new epoch: later marks go to the clear map; see the class comment.
     *
     * @throws IllegalStateException when the previous epoch was not retired yet
     */
    public Epoch switchEpoch() throws BlockIOException {
        long[] carried;
        Epoch ended;
        epochLock.writeLock().lock();
        try {
            if (unretired != null) {
                throw new IllegalStateException("the previous epoch of " + path + " is not retired yet");
            }
            carried = new long[touched.length()];
            for (int w = 0; w < carried.length; w++) {
                carried[w] = touched.getAndSet(w, 0);
            }
            int old = active;
            active = 1 - old;
            unretired = new Epoch(old);
            ended = unretired;
        } finally {
            epochLock.writeLock().unlock();
        }
        carryOver(carried);
        return ended;
    }

    /**
     * Marks, in the new epoch's map, the regions written during the ended one, with one sync.
     * Without it every hot region would be marked again, one sync each, right after the switch:
     * a burst of syncs that stalls a busy guest. A region thus stays marked until an epoch
     * passes without a write to it. Writers that find a region unmarked meanwhile wait for this
     * in {@link #markSlow}, and find it marked.
     */
    private void carryOver(long[] carried) throws BlockIOException {
        markLock.lock();
        try {
            int map = active;
            AtomicLongArray bits = durable[map];
            int first = -1;
            int last = -1;
            long[] words = new long[bits.length()];
            for (int w = 0; w < words.length; w++) {
                words[w] = bits.get(w) | carried[w];
                if (carried[w] != 0) {
                    first = first < 0 ? w : first;
                    last = w;
                }
            }
            if (first < 0) {
                return;
            }
            writeMapWords(map, words, first, last);
            channel.force(false);
            for (int w = first; w <= last; w++) {
                long add = words[w];
                bits.getAndUpdate(w, v -> v | add);
            }
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot carry write intents over in " + path + ": " + e, e);
        } finally {
            markLock.unlock();
        }
    }

    private void touch(int first, int last) {
        for (int w = first / 64; w <= last / 64; w++) {
            long mask = rangeMask(w, first, last);
            if ((touched.get(w) & mask) != mask) {
                touched.getAndUpdate(w, v -> v | mask);
            }
        }
    }

    /** Clears both maps durably: the bitmaps were stored and the image closed cleanly. */
    public void clearAll() throws BlockIOException {
        epochLock.writeLock().lock();
        try {
            clearMap(0);
            clearMap(1);
            unretired = null;
        } finally {
            epochLock.writeLock().unlock();
        }
    }

    private void clearMap(int map) throws BlockIOException {
        markLock.lock();
        try {
            ByteBuffer zeroes = ByteBuffer.allocate((int) Math.min(mapBytes, 1 << 20));
            for (long done = 0; done < mapBytes; done += zeroes.capacity()) {
                zeroes.clear().limit((int) Math.min(zeroes.capacity(), mapBytes - done));
                writeFully(channel, zeroes, PAGE + map * mapBytes + done);
            }
            channel.force(false);
            for (int w = 0; w < durable[map].length(); w++) {
                durable[map].set(w, 0);
            }
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot clear the intent log " + path + ": " + e, e);
        } finally {
            markLock.unlock();
        }
    }

    private void writeMapWords(int map, long[] words, int fromWord, int toWord) throws IOException {
        ByteBuffer slice = ByteBuffer.allocate((toWord - fromWord + 1) * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int w = fromWord; w <= toWord; w++) {
            slice.putLong(words[w]);
        }
        slice.flip();
        long start = PAGE + map * mapBytes + fromWord * 8L;
        slice.limit((int) Math.min(slice.limit(), PAGE + (map + 1) * mapBytes - start));
        writeFully(channel, slice, start);
    }

    /** Closes the file; the marks stay on disk (use {@link #clearAll()} first after a clean close). */
    @Override
    public void close() throws BlockIOException {
        try {
            channel.close();
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot close the intent log " + path + ": " + e, e);
        }
    }

    /** Deletes the sidecar: nothing is left to recover. */
    public void delete() throws BlockIOException {
        close();
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot delete the intent log " + path + ": " + e, e);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            pos += ch.write(buf, pos);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("short intent log at " + pos);
            }
            pos += n;
        }
    }

    private static void syncDirectory(Path file) {
        try (FileChannel dir = FileChannel.open(file.toAbsolutePath().getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        } catch (IOException e) {
            // some file systems refuse fsync on a directory; the file's own fsync still holds
        }
    }

    /** An open mark: close it once the write is recorded in the in-memory bitmaps. */
    @FunctionalInterface
    public interface Mark extends AutoCloseable {
        @Override
        void close();
    }

    /** The epoch that {@link #switchEpoch()} ended; retire it once the bitmaps are stored. */
    public final class Epoch {
        private final int map;

        private Epoch(int map) {
            this.map = map;
        }

        /** Clears the ended epoch's map: the stored bitmaps now cover it. */
        public void retire() throws BlockIOException {
            clearMap(map);
            unretired = null;
        }
    }
}
