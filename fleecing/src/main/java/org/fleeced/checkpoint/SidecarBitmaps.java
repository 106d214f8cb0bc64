package org.fleeced.checkpoint;

import java.io.IOException;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.tracking.IntentLog;
import org.fleeced.tracking.IntentLogReader;
import org.fleeced.tracking.PersistentRecorder;
import org.fleeced.tracking.RecoveredIntents;
import org.fleeced.tracking.StoreAfterFlush;
import org.fleeced.tracking.StoreObserver;

/**
 * The checkpoints of a raw image, which cannot hold bitmaps itself: they live in a bitmap sidecar
 * beside it ({@code IMAGE.fleeced-bitmaps}, {@link SidecarBitmapFile}) with the crash safety of a
 * qcow2 image's bitmaps. The intent log marks every change durably before it is recorded, the
 * checkpoint journal ({@link CheckpointSet}) makes every transition durable before it is
 * acknowledged, and the sidecar is rewritten in the background. It is both the disk's
 * {@link CheckpointStore} and the change recorder of its dirty-tracking filter.
 * <pre>
 *   export ──▶ DirtyTrackingFilter ──▶ raw image
 *                    │ recordChange: IntentLog.mark (durable), then every enabled bitmap
 *                    ▼
 *              SidecarBitmaps ──▶ IMAGE.fleeced-bitmaps, IMAGE.fleeced-intent
 *                    ▲ create/put/remove (in memory)
 *              CheckpointSet ──▶ IMAGE.fleeced-journal
 * </pre>
 *
 * <h2>Lifecycle</h2>
 * <ul>
 *   <li><b>open</b>: the sidecar's checkpoints are loaded. Closed cleanly, they are as they were
 *       (RECORDING or FROZEN). Left in use, they are RECOVERED (stored bits + the intent log's
 *       marks) when the intent log carries the sidecar's identity, and INCONSISTENT otherwise. A
 *       damaged sidecar is EIO and stays as it is: the disk is not opened on checkpoints nobody
 *       can vouch for. Then the intent log is written anew (the recovered marks carried over,
 *       for the journal's replay) and the sidecar, in use, after it.</li>
 *   <li><b>{@link #checkpointToImage()}</b> (daemon timer, or a flush once enough regions are
 *       marked): the journal's position read, the intent log's epoch switched, frozen copies of
 *       the bitmaps taken, the sidecar rewritten, the journal compacted, the ended epoch retired:
 *       the order of {@link StoreObserver}.</li>
 *   <li><b>clean close</b>: the sidecar written not in use, the journal and the intent log
 *       deleted.</li>
 * </ul>
 * A raw image has no autoclear bit, so a program other than fleeced that writes the image while
 * fleeced is stopped goes unnoticed: its changes are missing from the checkpoints.
 *
 * <h2>Thread safety</h2>
 * {@link #recordChange} takes no lock of its own (the intent log and each bitmap lock
 * internally). {@code stateLock} guards the checkpoints and is held only for in-memory steps, so
 * a transition (a job's start, while the guest is drained) never waits for a store's syncs.
 * {@code storeLock} serializes stores and the close, and is taken before {@code stateLock}.
 * {@link CheckpointSet} calls the store methods under its own lock, which is taken before both.
 */
public final class SidecarBitmaps implements PersistentRecorder, CheckpointStore {

    /** Made when a disk first needs an identity, not when the class loads (it loads the security providers). */
    private static final class Identities {
        static final SecureRandom RANDOM = new SecureRandom();
    }

    private final Path image;
    private final Path file;
    private final long imageSize;
    private final IntentLog intentLog;
    private final long identity;
    /** The intent log's marks after an unclean stop that the sidecar vouched for; null otherwise. */
    private final RecoveredIntents recovered;
    /** Once this many regions are marked, a flush starts a store; 0 never. */
    private final long storeAfterRegions;
    private final StoreAfterFlush storeAfterFlush = new StoreAfterFlush(this);
    private final ReentrantLock storeLock = new ReentrantLock();
    private final ReentrantLock stateLock = new ReentrantLock();
    /** Every checkpoint by name, oldest first. Guarded by stateLock. */
    private final Map<String, Stored> checkpoints = new LinkedHashMap<>();
    /** The bitmaps guest changes go to (each records only while enabled); replaced, never changed, under stateLock. */
    private volatile List<DirtyBitmap> tracked = List.of();
    /** Set by close. Guarded by stateLock. */
    private boolean closed;
    /** Told about every store (the checkpoint journal); null when none. Guarded by storeLock. */
    private StoreObserver observer;

    private SidecarBitmaps(Path image, long imageSize, IntentLog intentLog, long identity, RecoveredIntents recovered,
            long storeAfterRegions) {
        this.image = image;
        this.file = sidecarFor(image);
        this.imageSize = imageSize;
        this.intentLog = intentLog;
        this.identity = identity;
        this.recovered = recovered;
        this.storeAfterRegions = storeAfterRegions;
    }

    /** The sidecar's name for an image: {@code IMAGE.fleeced-bitmaps} in the image's directory. */
    public static Path sidecarFor(Path image) {
        return image.resolveSibling(image.getFileName() + ".fleeced-bitmaps");
    }

    /**
     * Opens the checkpoints of the raw image at {@code image}, of {@code imageSize} bytes, for
     * writing (see the class note). The sidecar, in use, and a new intent log exist when this
     * returns.
     *
     * @param regionBits        log2 of the intent log's region size
     * @param storeAfterRegions a flush stores the sidecar once this many regions were marked; 0 never
     * @throws BlockIOException EUCLEAN when the sidecar is damaged (nothing is changed then: the disk is
     *                          invalid input, as a qcow2 image with damaged bitmap metadata is), EIO when
     *                          it cannot be read or written
     */
    public static SidecarBitmaps open(Path image, long imageSize, int regionBits, long storeAfterRegions)
            throws BlockIOException {
        Path file = sidecarFor(image);
        SidecarBitmapFile.Contents contents;
        try {
            contents = SidecarBitmapFile.read(file, imageSize);
        } catch (IOException e) {
            Errno errno = e instanceof SidecarBitmapFile.Damaged ? Errno.EUCLEAN : Errno.EIO;
            throw new BlockIOException(errno, e.getMessage() + ". Its checkpoints cannot be trusted, so the disk"
                    + " is not opened on them; move the file away to open the disk without checkpoints (the next"
                    + " backup is then a full one)", e);
        }
        boolean inUse = contents != null && contents.inUse();
        RecoveredIntents intents = inUse
                ? IntentLogReader.recover(IntentLog.sidecarFor(image), imageSize, contents.identity()) : null;
        long identity = intents != null ? contents.identity() : Identities.RANDOM.nextLong();
        IntentLog log = IntentLog.create(IntentLog.sidecarFor(image), imageSize, regionBits, identity, intents);
        SidecarBitmaps bitmaps = new SidecarBitmaps(image, imageSize, log, identity, intents, storeAfterRegions);
        try {
            if (contents != null) {
                for (SidecarBitmapFile.Entry e : contents.entries()) {
                    bitmaps.checkpoints.put(e.name(), loaded(e, inUse, intents));
                }
            }
            bitmaps.publishTrackedLocked();
            SidecarBitmapFile.write(file, true, identity, imageSize, bitmaps.itemsLocked());
            return bitmaps;
        } catch (IOException e) {
            closeQuietly(log, e);
            throw new BlockIOException(Errno.EIO, "cannot write the bitmap sidecar " + file + ": " + e, e);
        } catch (RuntimeException e) {
            closeQuietly(log, e);
            throw e;
        }
    }

    private static Stored loaded(SidecarBitmapFile.Entry e, boolean inUse, RecoveredIntents intents) {
        DirtyBitmap bits = e.bits();
        bits.setEnabled(e.recording());
        if (e.inconsistent() || (inUse && intents == null)) {
            return new Stored(e.name(), new DirtyBitmap(bits.sizeBytes(), bits.granularity()), CheckpointState.INCONSISTENT);
        }
        if (inUse) {
            intents.forEachRange(bits::set);
            return new Stored(e.name(), bits, CheckpointState.RECOVERED);
        }
        return new Stored(e.name(), bits, e.recording() ? CheckpointState.RECORDING : CheckpointState.FROZEN);
    }

    @Override
    public void recordChange(long offset, long length) throws BlockIOException {
        try (IntentLog.Mark ignored = intentLog.mark(offset, length)) {
            for (DirtyBitmap b : tracked) {
                b.track(offset, length);
            }
        }
    }

    /** Once enough regions are marked, starts a store the guest's flush does not wait for. */
    @Override
    public void afterFlush() {
        if (storeAfterRegions > 0 && intentLog.activeMarkedRegions() >= storeAfterRegions) {
            storeAfterFlush.start();
        }
    }

    @Override
    public void checkpointToImage() throws BlockIOException {
        storeLock.lock();
        try {
            checkOpen();
            StoreObserver.storeInOrder(observer, intentLog, () -> {
                List<SidecarBitmapFile.Item> items;
                stateLock.lock();
                try {
                    items = itemsLocked();
                } finally {
                    stateLock.unlock();
                }
                writeSidecar(true, items);
            });
        } finally {
            storeLock.unlock();
        }
    }

    /**
     * The same store as {@link #checkpointToImage()}: it syncs the bitmap sidecar, the journal
     * and the intent log, never the raw image the guest writes.
     */
    @Override
    public void storeInBackground() throws BlockIOException {
        checkpointToImage();
    }

    /** The clean close: the sidecar written not in use, the journal and the intent log deleted. */
    @Override
    public void close() throws BlockIOException {
        storeLock.lock();
        try {
            List<SidecarBitmapFile.Item> items;
            stateLock.lock();
            try {
                if (closed) {
                    return;
                }
                closed = true;
                items = itemsLocked();
            } finally {
                stateLock.unlock();
            }
            writeSidecar(false, items);
            if (observer != null) {
                observer.closedCleanly();
            }
            intentLog.delete();
        } finally {
            storeLock.unlock();
        }
    }

    /**
     * Lets go of the sidecars without storing anything, as a crash would: for a disk whose open
     * failed after this object opened, so that the next open recovers from the files as they are.
     * Failures are added to {@code primary}.
     */
    public void abandon(Exception primary) {
        stateLock.lock();
        try {
            closed = true;
        } finally {
            stateLock.unlock();
        }
        closeQuietly(intentLog, primary);
    }

    /** Adds the bitmap to the tracked ones at once, so no write between this and {@link #put} is missed. */
    @Override
    public DirtyBitmap create(String name, long sizeBytes, long granularity) throws BlockIOException {
        stateLock.lock();
        try {
            checkOpenLocked();
            DirtyBitmap bitmap = new DirtyBitmap(sizeBytes, granularity);
            bitmap.setEnabled(true);
            checkpoints.put(name, new Stored(name, bitmap, CheckpointState.RECORDING));
            publishTrackedLocked();
            return bitmap;
        } finally {
            stateLock.unlock();
        }
    }

    @Override
    public List<Stored> loadAll() {
        stateLock.lock();
        try {
            return new ArrayList<>(checkpoints.values());
        } finally {
            stateLock.unlock();
        }
    }

    @Override
    public void put(Stored checkpoint) {
        stateLock.lock();
        try {
            checkpoints.put(checkpoint.name(), checkpoint);
            publishTrackedLocked();
        } finally {
            stateLock.unlock();
        }
    }

    @Override
    public void remove(String name) {
        stateLock.lock();
        try {
            checkpoints.remove(name);
            publishTrackedLocked();
        } finally {
            stateLock.unlock();
        }
    }

    @Override
    public Durability durability() {
        return new Durability(CheckpointJournal.sidecarFor(image), identity, imageSize, recovered, 0);
    }

    @Override
    public void observeStores(StoreObserver storeObserver) {
        storeLock.lock();
        try {
            observer = storeObserver;
        } finally {
            storeLock.unlock();
        }
    }

    @Override
    public boolean persistent() {
        return true;
    }

    @Override
    public Path path() {
        return image;
    }

    /** What a store writes: frozen copies of the bits, taken now (inconsistent ones without bits). */
    private List<SidecarBitmapFile.Item> itemsLocked() {
        List<SidecarBitmapFile.Item> items = new ArrayList<>();
        for (Stored s : checkpoints.values()) {
            boolean inconsistent = s.state() == CheckpointState.INCONSISTENT;
            items.add(new SidecarBitmapFile.Item(s.name(), s.bitmap().granularity(), s.bitmap().isEnabled(),
                    inconsistent ? null : s.bitmap().frozenCopy()));
        }
        return items;
    }

    private void writeSidecar(boolean inUse, List<SidecarBitmapFile.Item> items) throws BlockIOException {
        try {
            SidecarBitmapFile.write(file, inUse, identity, imageSize, items);
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot write the bitmap sidecar " + file + ": " + e, e);
        }
    }

    private void publishTrackedLocked() {
        List<DirtyBitmap> list = new ArrayList<>();
        for (Stored s : checkpoints.values()) {
            if (s.state() != CheckpointState.INCONSISTENT) {
                list.add(s.bitmap());
            }
        }
        tracked = List.copyOf(list);
    }

    private void checkOpenLocked() throws BlockIOException {
        if (closed) {
            throw new BlockIOException(Errno.ESHUTDOWN, "the checkpoints of " + image + " are closed");
        }
    }

    private void checkOpen() throws BlockIOException {
        stateLock.lock();
        try {
            checkOpenLocked();
        } finally {
            stateLock.unlock();
        }
    }

    private static void closeQuietly(IntentLog log, Exception primary) {
        try {
            log.close();
        } catch (BlockIOException | RuntimeException e) {
            primary.addSuppressed(e);
        }
    }
}
