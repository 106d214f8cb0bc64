package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashSet;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.file.SyncProgress;

/**
 * The internal API through which the owner of a header extension that references host clusters
 * (the persistent bitmaps, {@code org.fleeced.qcow2.bitmap}) works on an open image: the
 * {@link Qcow2Metadata} (lock, allocator, reservations, header) plus raw access to the clusters
 * it allocated and the ordered metadata flush.
 *
 * <p>Everything here except {@link #open}, {@link #node()} and {@link #metadata()} needs the
 * metadata lock ({@link Qcow2Metadata#lock()}). Clusters are written with
 * {@link #writeLocked}; {@link #flushLocked} makes them and their refcounts durable, and only
 * then may a header written with {@link Qcow2Metadata#writeHeaderLocked} point at them (qcow2
 * spec "Host cluster management": counted before referenced).
 */
public final class Qcow2ExtensionStorage {
    private final Qcow2Node node;
    private final Qcow2Metadata metadata;

    private Qcow2ExtensionStorage(Qcow2Node node) {
        this.node = node;
        this.metadata = node.metadata();
    }

    /**
     * Opens an image whose autoclear bits {@code ownedAutoclear} the caller maintains: a
     * read-write open keeps them instead of clearing them as for bits nobody understands.
     */
    public static Qcow2ExtensionStorage open(Path path, Qcow2OpenOptions options, long ownedAutoclear)
            throws BlockIOException {
        return new Qcow2ExtensionStorage(Qcow2Opener.open(path, options, new HashSet<>(), ownedAutoclear));
    }

    /** The image file, for messages and for files kept beside it. */
    public Path path() {
        return node.path();
    }

    public Qcow2Node node() {
        return node;
    }

    public Qcow2Metadata metadata() {
        return metadata;
    }

    /** Whether damage was found since the open: then nothing more is written into the image. */
    public boolean markedCorrupt() {
        return metadata.isCorrupt();
    }

    /** Reads host bytes; bytes past the end of the file are EIO, not zeroes. */
    public void readLocked(long hostOffset, ByteBuffer dst) throws BlockIOException {
        metadata.file().readFully(hostOffset, dst);
    }

    /** Writes host bytes into clusters the caller allocated. */
    public void writeLocked(long hostOffset, ByteBuffer src) throws BlockIOException {
        metadata.checkWritableLocked();
        metadata.file().writeFully(hostOffset, src);
    }

    /**
     * Writes host bytes into clusters the caller allocated and reserved
     * ({@link Qcow2Metadata#reserveMetadataLocked}), without the metadata lock: nothing else
     * writes or hands out reserved clusters, and nothing on disk references them yet.
     */
    public void writeReserved(long hostOffset, ByteBuffer src) throws BlockIOException {
        metadata.checkWritableLocked();
        metadata.file().writeFully(hostOffset, src);
    }

    /** What the completed syncs of the image file made durable (a guest's flush syncs it too). */
    public SyncProgress syncs() {
        return metadata.file().syncs();
    }

    /**
     * Writes the changed refcount blocks without syncing ({@link Qcow2Metadata#writeRefcountBlocksLocked}):
     * the next sync of the image, whoever issues it, makes them durable.
     */
    public void writeRefcountBlocksLocked() throws BlockIOException {
        metadata.writeRefcountBlocksLocked();
    }

    /** Whether a refcount table entry (a new refcount block) waits to be written and synced. */
    public boolean refcountTableDirtyLocked() {
        return metadata.refcountTableDirtyLocked();
    }

    /** Syncs the image file without the metadata lock: guest I/O goes on meanwhile. */
    public void syncUnlocked() throws BlockIOException {
        metadata.file().sync();
    }

    /**
     * Makes the refcounts of every cluster allocated so far durable without holding the
     * metadata lock across a sync ({@link Qcow2Metadata#commitRefcountsUnlocked}).
     */
    public void commitRefcounts() throws BlockIOException {
        metadata.commitRefcountsUnlocked();
    }

    /**
     * Writes back the image's metadata in the driver's crash-safe order (data, refcounts, L2,
     * L1) without holding the metadata lock across a sync; a guest that keeps changing the
     * mapping may leave it to the next flush ({@link Qcow2Metadata#writeBackUnlocked}). Refcounts
     * are durable in any case when this returns.
     */
    public void writeBack() throws BlockIOException {
        if (!metadata.writeBackUnlocked(WRITE_BACK_ATTEMPTS)) {
            metadata.commitRefcountsUnlocked();
        }
    }

    /** How often a write-back starts over when guest writes changed the mapping meanwhile. */
    private static final int WRITE_BACK_ATTEMPTS = 4;

    /** Makes every write and every refcount change so far durable, in the driver's crash-safe order. */
    public void flushLocked() throws BlockIOException {
        metadata.flushLocked(false);
    }

    /** Host offset past every cluster in use: no valid reference points at or beyond it. */
    public long hostEndLocked() {
        return metadata.allocatedEndLocked();
    }
}
