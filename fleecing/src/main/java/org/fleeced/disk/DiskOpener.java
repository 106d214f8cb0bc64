package org.fleeced.disk;

import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.checkpoint.CheckpointSet;
import org.fleeced.checkpoint.SidecarBitmaps;
import org.fleeced.qcow2.CorruptionException;
import org.fleeced.qcow2.Qcow2ExtensionStorage;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;
import org.fleeced.qcow2.bitmap.PersistentBitmaps;
import org.fleeced.restore.InstantRestore;
import org.fleeced.tracking.ChangeRecorder;
import org.fleeced.tracking.DirtyTrackingFilter;
import org.fleeced.tracking.IntentLog;
import org.fleeced.tracking.PersistentRecorder;

/**
 * The one place a disk's stack is assembled (QEMU's {@code blockdev-add}, for a whole disk):
 * the format node over its file, the bitmaps and checkpoints the format can keep, and the named
 * policy filters over the image. Every caller (the daemon's disk table, {@code fleeced serve},
 * tests) gets its disk here; the stack it builds is drawn in {@link org.fleeced.block}.
 *
 * <ul>
 *   <li><b>qcow2</b>: the format node opened keeping the bitmaps' autoclear bits, its
 *       {@link PersistentBitmaps} loaded (intent log sidecar beside the image), checkpoints
 *       stored as those bitmaps; dirty tracking records through the persistent bitmaps (intent
 *       log first, then every enabled bitmap).</li>
 *   <li><b>raw</b>: the file node is the image; read-write, its checkpoints live in a bitmap
 *       sidecar beside it ({@link SidecarBitmaps}: same intent log, journal and recovery as a
 *       qcow2 image's bitmaps), which dirty tracking records through. Read-only, they live in
 *       memory (nothing may be written beside the image).</li>
 * </ul>
 * On any failure, everything opened so far is closed again and nothing is left behind.
 */
public final class DiskOpener {
    /** Checkpoint bitmaps record at this granularity unless the image's clusters are larger. */
    public static final long DEFAULT_GRANULARITY = 64 << 10;
    /** The allocation unit a raw file is handled in (the file system block). */
    private static final long RAW_CLUSTER_BYTES = 4096;
    private static final String DIRTY_TRACKING = "dirty-tracking";

    private DiskOpener() {
    }

    /** Opens the image {@code spec} names and assembles its disk. */
    public static ActiveDisk open(DiskSpec spec) throws BlockIOException {
        ActiveDisk.requireValidName(spec.name());
        return switch (spec.format()) {
            case QCOW2 -> openQcow2(spec);
            case RAW -> openRaw(spec);
        };
    }

    /**
     * A disk over an image node the caller opened itself (an in-memory or fault-injecting node in
     * tests): checkpoints in memory at {@code granularity}, as for a raw image. The disk owns the
     * node from now on.
     */
    public static ActiveDisk over(String name, BlockNode image, long imageClusterBytes, long granularity) {
        CheckpointSet checkpoints = CheckpointSet.inMemory(image.size(), granularity);
        return new ActiveDisk(name, image, imageClusterBytes, checkpoints, null,
                policyFilters(checkpoints::track));
    }

    private static ActiveDisk openQcow2(DiskSpec spec) throws BlockIOException {
        Qcow2OpenOptions how = (spec.readOnly() ? Qcow2OpenOptions.readOnlyDefaults() : Qcow2OpenOptions.readWrite())
                .withBackingPolicy(spec.backingPolicy());
        Qcow2ExtensionStorage storage = Qcow2ExtensionStorage.open(spec.path(), how, PersistentBitmaps.AUTOCLEAR_BITS);
        Qcow2Node image = storage.node();
        PersistentBitmaps bitmaps = null;
        InstantRestore restore = null;
        try {
            bitmaps = loadBitmaps(storage, spec);
            long cluster = image.capabilities().preferredSize();
            CheckpointSet checkpoints = spec.checkpoints()
                    ? CheckpointSet.open(image.size(), Math.max(DEFAULT_GRANULARITY, cluster),
                            new Qcow2CheckpointStore(bitmaps, image.size()))
                    : null;
            restore = spec.readOnly() ? null : InstantRestore.open(spec.path(), image, cluster, spec.restore());
            if (restore == null) {
                return new ActiveDisk(spec.name(), image, cluster, checkpoints, bitmaps, policyFilters(bitmaps));
            }
            List<StackFilter> filters = new ArrayList<>(policyFilters(bitmaps));
            filters.add(new StackFilter(InstantRestore.FILTER_NAME, restore.filter()));
            return new ActiveDisk(spec.name(), image, cluster, checkpoints, bitmaps, filters, restore);
        } catch (BlockIOException | RuntimeException e) {
            if (restore != null) {
                try {
                    restore.stop();
                } catch (BlockIOException | RuntimeException closing) {
                    e.addSuppressed(closing);
                }
            }
            closeAfterFailure(bitmaps, image, e);
            throw e;
        }
    }

    /** The image's bitmaps; a damaged bitmap directory found here makes the image invalid (EUCLEAN). */
    private static PersistentBitmaps loadBitmaps(Qcow2ExtensionStorage storage, DiskSpec spec)
            throws BlockIOException {
        try {
            return PersistentBitmaps.load(storage, spec.bitmapOptions());
        } catch (CorruptionException e) {
            throw e.foundAtOpen();
        }
    }

    private static ActiveDisk openRaw(DiskSpec spec) throws BlockIOException {
        if (spec.restore() != null) {
            throw new IllegalArgumentException("a restore writes a qcow2 image, not raw " + spec.path());
        }
        RawFileNode image = spec.readOnly() ? RawFileNode.open(spec.path(), true) : RawFileNode.openExclusive(spec.path());
        SidecarBitmaps bitmaps = null;
        try {
            if (!spec.checkpoints()) {
                return new ActiveDisk(spec.name(), image, RAW_CLUSTER_BYTES, null, null, List.of());
            }
            if (spec.readOnly()) {
                CheckpointSet checkpoints = CheckpointSet.inMemory(image.size(), DEFAULT_GRANULARITY);
                return new ActiveDisk(spec.name(), image, RAW_CLUSTER_BYTES, checkpoints, null,
                        policyFilters(checkpoints::track));
            }
            int regionBits = spec.bitmapOptions().regionBits() != 0 ? spec.bitmapOptions().regionBits()
                    : IntentLog.defaultRegionBits(image.size());
            bitmaps = SidecarBitmaps.open(spec.path(), image.size(), regionBits,
                    spec.bitmapOptions().checkpointAfterRegions());
            CheckpointSet checkpoints = CheckpointSet.open(image.size(), DEFAULT_GRANULARITY, bitmaps);
            return new ActiveDisk(spec.name(), image, RAW_CLUSTER_BYTES, checkpoints, bitmaps, policyFilters(bitmaps));
        } catch (BlockIOException | RuntimeException e) {
            // no clean close: the sidecars stay as they are, for the next open to recover
            if (bitmaps != null) {
                bitmaps.abandon(e);
            }
            closeAfterFailure(null, image, e);
            throw e;
        }
    }

    /**
     * The policy filters over a disk's image (or over a job's filter over it), top first: dirty
     * tracking, recording with {@code recorder}. A disk being restored adds copy-on-read below it
     * (so the fills from the source are not guest changes), until the restore completes.
     */
    private static List<StackFilter> policyFilters(ChangeRecorder recorder) {
        return List.of(new StackFilter(DIRTY_TRACKING, below -> new DirtyTrackingFilter(below, recorder)));
    }

    private static void closeAfterFailure(PersistentRecorder bitmaps, BlockNode image, Exception primary) {
        try {
            if (bitmaps != null) {
                bitmaps.close();
            }
        } catch (BlockIOException | RuntimeException e) {
            primary.addSuppressed(e);
        }
        try {
            image.close();
        } catch (BlockIOException | RuntimeException e) {
            primary.addSuppressed(e);
        }
    }
}
