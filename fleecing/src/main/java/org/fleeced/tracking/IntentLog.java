package org.fleeced.tracking;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
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
        this.mapBytes = mapBytes(imageSize, regionBits);
        int words = (int) ((regions + 63) / 64);
        this.durable = new AtomicLongArray[] {new AtomicLongArray(words), new AtomicLongArray(words)};
        this.touched = new AtomicLongArray(words);
    }

    /** Creates (or replaces) the sidecar with both maps clear: {@link #create(Path, long, int, long, RecoveredIntents)}. */
    public static IntentLog create(Path path, long imageSize, int regionBits, long identity) throws BlockIOException {
        return create(path, imageSize, regionBits, identity, null);
    }

    /**
     * Creates (or replaces) the sidecar durably, for an image of {@code imageSize} bytes with
     * regions of {@code 2^regionBits} bytes: both maps clear, but for the regions an earlier
     * run left marked ({@code carried}, may be null), marked in the active map. They stay marked
     * until the first epoch after recovery is retired: until then the checkpoint journal may
     * still need them, though the store at open put them into the bitmaps the image held.
     *
     * <p>The new sidecar is written beside the old one and renamed over it, so a crash leaves
     * either the old sidecar, whole, or the new one: never a truncated file that would make
     * {@link IntentLogReader#recover} distrust the image's bitmaps.
     */
    public static IntentLog create(Path path, long imageSize, int regionBits, long identity, RecoveredIntents carried)
            throws BlockIOException {
        if (regionBits < MIN_REGION_BITS || regionBits > MAX_REGION_BITS) {
            throw new IllegalArgumentException("regionBits " + regionBits + " outside 16..40");
        }
        IntentLog[] created = new IntentLog[1];
        try {
            // the log keeps the channel replace returns open: the one it wrote through
            DurableRename.replace(path, channel -> {
                IntentLog log = new IntentLog(path, channel, regionBits, imageSize);
                ByteBuffer header = ByteBuffer.allocate(PAGE).order(ByteOrder.LITTLE_ENDIAN);
                header.putLong(MAGIC).putInt(VERSION).putInt(regionBits).putLong(imageSize).putLong(identity);
                header.clear();
                writeFully(channel, header, 0);
                // Both maps written as zeroes, not left sparse: a mark then overwrites allocated
                // blocks, and its fdatasync needs no file system metadata commit (which on ext4
                // would also wait for the image's own data writes).
                ByteBuffer zeroes = ByteBuffer.allocate((int) Math.min(2 * log.mapBytes, 1 << 20));
                for (long done = 0; done < 2 * log.mapBytes; done += zeroes.capacity()) {
                    zeroes.clear().limit((int) Math.min(zeroes.capacity(), 2 * log.mapBytes - done));
                    writeFully(channel, zeroes, PAGE + done);
                }
                if (carried != null && !carried.isEmpty()) {
                    log.carryRecovered(carried);
                }
                created[0] = log;
            });
            return created[0];
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot create the intent log " + path + ": " + e, e);
        }
    }

    /** Marks in map 0 (the active one) every region {@code carried} covers; the caller syncs. */
    private void carryRecovered(RecoveredIntents carried) throws IOException {
        AtomicLongArray bits = durable[active];
        carried.forEachRange((offset, length) -> {
            int first = (int) (offset >>> regionBits);
            int last = (int) ((offset + length - 1) >>> regionBits);
            RegionWords.add(bits, first, last);
        });
        long[] words = new long[bits.length()];
        for (int w = 0; w < words.length; w++) {
            words[w] = bits.get(w);
        }
        writeMapWords(active, words, 0, words.length - 1);
    }

    /** Bytes of one region map: one bit per region, page-aligned. */
    static long mapBytes(long imageSize, int regionBits) {
        long regions = Math.max(1, (imageSize + (1L << regionBits) - 1) >>> regionBits);
        return Alignment.alignUp((regions + 7) / 8, PAGE);
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

    /** The sidecar's name for an image: {@code IMAGE.fleeced-intent} in the image's directory. */
    public static Path sidecarFor(Path image) {
        return image.resolveSibling(image.getFileName() + ".fleeced-intent");
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
                RegionWords.add(touched, first, last);
                if (!RegionWords.allSet(durable[active], first, last)) {
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
            if (RegionWords.allSet(bits, first, last)) {
                return;
            }
            long[] updated = new long[bits.length()];
            for (int w = first / 64; w <= last / 64; w++) {
                updated[w] = bits.get(w) | RegionWords.rangeMask(w, first, last);
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

    /** Regions marked in the active epoch's map: how much a crash now would add to the bitmaps. */
    public long activeMarkedRegions() {
        AtomicLongArray bits = durable[active];
        return RegionWords.count(bits);
    }

    /**
     * Starts a new epoch: later marks go to the clear map; see the class comment. While the
     * previous ended epoch is not retired (its store failed, or this switch failed in its
     * carry-over after the maps were swapped), there is no clear map to switch to: that epoch is
     * returned again, and retiring it after a successful store is still right, since the store
     * copies the bitmaps after the switch that ended it.
     */
    public Epoch switchEpoch() throws BlockIOException {
        long[] carried;
        Epoch ended;
        epochLock.writeLock().lock();
        try {
            if (unretired != null) {
                return unretired;
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
        // On failure the maps are already swapped and the ended epoch is pending (switchEpoch
        // returns it again); regions not carried are marked anew by their next write.
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
