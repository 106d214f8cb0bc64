package org.fleeced.disk;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.SwappableNode;
import org.fleeced.checkpoint.CheckpointSet;
import org.fleeced.job.FleecingJob;
import org.fleeced.qcow2.bitmap.PersistentBitmaps;
import org.fleeced.restore.InstantRestore;
import org.fleeced.restore.RestoreLimits;
import org.fleeced.restore.RestoreProgress;
import org.fleeced.tracking.PersistentRecorder;

/**
 * A disk the daemon owns, as {@link DiskOpener} assembled it: its image (the format node), the
 * policy filters over it, its checkpoints, where their bitmaps persist (a qcow2 image's persistent
 * bitmaps, a raw image's bitmap sidecar), and the node its writable export uses. The stack is drawn in {@link org.fleeced.block}.
 *
 * <p>The export's gate ({@link SwappableNode}) sits above the policy filters, so a write is
 * recorded in the same checkpoint as the stack it lands in: a job's swap drains both. A fleecing
 * job puts its copy-before-write filter between the policy filters and the image through a
 * {@link Drain}, and takes it out the same way; at most one job runs per disk.
 *
 * <p>The disk is the one owner of everything below the gate: {@link #close()} stores the
 * persistent bitmaps cleanly, then closes the stack down to the image.
 */
public final class ActiveDisk implements AutoCloseable {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private final String name;
    private final BlockNode image;
    private final long imageClusterBytes;
    /** Null when the disk was opened without checkpoints ({@code fleeced serve}). */
    private final CheckpointSet checkpoints;
    /** Where the bitmaps persist (qcow2 image, raw image's sidecar); null when they live in memory or nowhere. */
    private final PersistentRecorder bitmaps;
    /**
     * The policy filters over the image, top first. Changes once at most: when a restore
     * completes, its copy-on-read filter leaves (under a drain).
     */
    private volatile List<StackFilter> filters;
    /** The disk's restore, or null when it was not being restored at open. Kept after completion, for its progress. */
    private final InstantRestore restore;
    private final SwappableNode exportNode;
    /** The job fleecing this disk, or null. Claimed and released with compare-and-set. */
    private final AtomicReference<FleecingJob> job = new AtomicReference<>();

    ActiveDisk(String name, BlockNode image, long imageClusterBytes, CheckpointSet checkpoints,
            PersistentRecorder bitmaps, List<StackFilter> filters) {
        this(name, image, imageClusterBytes, checkpoints, bitmaps, filters, null);
    }

    /** A disk being restored: {@code filters} end with the restore's copy-on-read filter, and its stream starts now. */
    ActiveDisk(String name, BlockNode image, long imageClusterBytes, CheckpointSet checkpoints,
            PersistentRecorder bitmaps, List<StackFilter> filters, InstantRestore restore) {
        this.name = requireValidName(name);
        this.image = image;
        this.imageClusterBytes = imageClusterBytes;
        this.checkpoints = checkpoints;
        this.bitmaps = bitmaps;
        this.filters = List.copyOf(filters);
        this.restore = restore;
        this.exportNode = new SwappableNode(stackOver(image));
        if (restore != null) {
            restore.start(this::restoreComplete);
        }
    }

    /** {@code name} when it can name a disk (and its temp files): letters, digits, '.', '_', '-'. */
    static String requireValidName(String name) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("bad disk name '" + name + "'");
        }
        return name;
    }

    public String name() {
        return name;
    }

    /** The node the writable export reads and writes; it stays the same across fleecing jobs. */
    public BlockNode exportNode() {
        return exportNode;
    }

    /**
     * The disk's checkpoints.
     *
     * @throws IllegalStateException the disk was opened without checkpoints
     */
    public CheckpointSet checkpoints() {
        if (checkpoints == null) {
            throw new IllegalStateException("disk " + name + " was opened without checkpoints");
        }
        return checkpoints;
    }

    /** The qcow2 image's persistent bitmaps (what {@code fleeced serve} exports); empty for a raw image. */
    public Optional<PersistentBitmaps> persistentBitmaps() {
        return bitmaps instanceof PersistentBitmaps qcow2 ? Optional.of(qcow2) : Optional.empty();
    }

    /**
     * Stores the persistent bitmaps into the image or the raw image's bitmap sidecar (in use
     * kept) and retires the intent log's epoch, so that recovery after a crash starts from here;
     * nothing when the checkpoints live in memory. A qcow2 image's store issues no sync of the
     * image: it is complete after the guest's next syncs ({@link PersistentRecorder#storeInBackground()}).
     */
    public void storeBitmaps() throws BlockIOException {
        if (bitmaps != null) {
            bitmaps.storeInBackground();
        }
    }

    /** The restore's progress, when the disk was opened restoring (complete once it is done). */
    public Optional<RestoreProgress> restoreProgress() {
        return restore == null ? Optional.empty() : Optional.of(restore.progress());
    }

    /** What the disk is restored from (as its restore state records it), or null when it was not. */
    public String restoreSource() {
        return restore == null ? null : restore.sourceDescription();
    }

    /**
     * Changes the restore stream's limits at once (and runs it again when it had given up after
     * failures); false when the disk is not restoring.
     */
    public boolean setRestoreLimits(RestoreLimits limits) {
        if (!restoring()) {
            return false;
        }
        restore.setLimits(limits);
        return true;
    }

    /** The restore stream's limits, when the disk is restoring. */
    public Optional<RestoreLimits> restoreLimits() {
        return restoring() ? Optional.of(restore.limits()) : Optional.empty();
    }

    /** True while the disk's data still streams in: jobs and checkpoints wait for the end. */
    public boolean restoring() {
        return restore != null && restore.progress().state() != RestoreProgress.State.COMPLETE;
    }

    /**
     * The stream restored every cluster and made it durable: the copy-on-read filter leaves the
     * stack at one point in time (a drain), then the source and the restore state go. A crash
     * before the state is deleted finds it complete at the next open, which deletes it.
     */
    private void restoreComplete() throws BlockIOException {
        try (Drain drained = drain()) {
            filters = filters.stream().filter(f -> !f.name().equals(InstantRestore.FILTER_NAME)).toList();
            drained.remove();
        }
        restore.finish();
    }

    /** The fleecing job running on this disk, or null. */
    public FleecingJob job() {
        return job.get();
    }

    /** The format node: what a job's filter reads the old data from and sits on. */
    public BlockNode image() {
        return image;
    }

    public long imageClusterBytes() {
        return imageClusterBytes;
    }

    /** Makes {@code newJob} this disk's job; false when it has one. */
    public boolean claim(FleecingJob newJob) {
        return job.compareAndSet(null, newJob);
    }

    public void release(FleecingJob oldJob) {
        job.compareAndSet(oldJob, null);
    }

    /**
     * Holds the disk's guest I/O back until the drain is closed (see {@link SwappableNode#drain}),
     * so that a job's filter can go in or out of the stack at one point in time.
     */
    public Drain drain() throws BlockIOException {
        return new Drain(exportNode.drain());
    }

    /** A drained disk: its stack may change; no guest request runs until {@link #close()}. */
    public final class Drain implements AutoCloseable {
        private final SwappableNode.Drain gate;

        private Drain(SwappableNode.Drain gate) {
            this.gate = gate;
        }

        /** Puts {@code jobFilter}, a filter over {@link #image()}, under the policy filters. */
        public void insert(BlockNode jobFilter) {
            gate.replace(stackOver(jobFilter));
        }

        /** Takes the job's filter out: the policy filters sit on the image again. */
        public void remove() {
            gate.replace(stackOver(image));
        }

        @Override
        public void close() {
            gate.close();
        }
    }

    /** The disk's policy filters by name, top first, and the stack its export runs on now: for logs. */
    public String describe() {
        return name + " " + filters.stream().map(StackFilter::name).toList() + ": " + exportNode.describe();
    }

    /** The policy filters, built anew over {@code below}. */
    private BlockNode stackOver(BlockNode below) {
        BlockNode node = below;
        for (StackFilter filter : filters.reversed()) {
            node = filter.over().apply(node);
        }
        return node;
    }

    /**
     * The clean close: the persistent bitmaps stored (not in use, intent log deleted), then the
     * stack closed down to the image, even when the store failed (the intent log then recovers
     * the bitmaps at the next open). A running job must have been finished.
     */
    @Override
    public void close() throws BlockIOException {
        if (job.get() != null) {
            throw new IllegalStateException("disk " + name + " still has a fleecing job; finish it first");
        }
        try {
            if (restore != null) {
                restore.stop();
            }
        } finally {
            try {
                if (bitmaps != null) {
                    bitmaps.close();
                }
            } finally {
                exportNode.close();
            }
        }
    }
}
