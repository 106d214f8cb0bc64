package org.fleeced.disk;

import org.fleeced.block.SwappableNode;
import org.fleeced.job.FleecingJob;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.checkpoint.CheckpointSet;
import org.fleeced.tracking.DirtyTrackingFilter;
import org.fleeced.tracking.ChangeRecorder;

/**
 * A disk the daemon owns: its image, its checkpoints, and the node its writable export uses.
 *
 * <pre>
 *   writable export ──▶ SwappableNode ──▶ DirtyTrackingFilter ──▶ [CopyBeforeWriteFilter] ──▶ image
 * </pre>
 * The gate sits above dirty tracking, so a write is recorded in the same checkpoint as the stack
 * it lands in: a job's swap drains both. A fleecing job inserts the copy-before-write filter by
 * swapping the stack below the gate and removes it the same way; at most one job runs per disk.
 */
public final class ActiveDisk implements AutoCloseable {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    private final String name;
    private final BlockNode image;
    private final long imageClusterBytes;
    private final CheckpointSet checkpoints;
    private final ChangeRecorder recorder;
    private final SwappableNode exportNode;
    /** The job fleecing this disk, or null. Claimed and released with compare-and-set. */
    private final AtomicReference<FleecingJob> job = new AtomicReference<>();

    /**
     * @param name              the disk's name: letters, digits, '.', '_', '-' (it names temp files)
     * @param image             the active image; the disk owns it from now on
     * @param imageClusterBytes the image's cluster (qcow2 cluster, or the raw file's block size)
     * @param checkpoints       the disk's checkpoints, covering the image's size
     */
    public ActiveDisk(String name, BlockNode image, long imageClusterBytes, CheckpointSet checkpoints) {
        this(name, image, imageClusterBytes, checkpoints, checkpoints::track);
    }

    /**
     * A disk whose changes go to {@code recorder}: for a qcow2 image, its persistent bitmaps,
     * which mark each change in the intent log before recording it in the enabled bitmaps (the
     * same bitmaps {@code checkpoints} holds, through its store).
     */
    public ActiveDisk(String name, BlockNode image, long imageClusterBytes, CheckpointSet checkpoints,
            ChangeRecorder recorder) {
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("bad disk name '" + name + "'");
        }
        this.name = name;
        this.image = image;
        this.imageClusterBytes = imageClusterBytes;
        this.checkpoints = checkpoints;
        this.recorder = recorder;
        this.exportNode = new SwappableNode(trackingOver(image));
    }

    public String name() {
        return name;
    }

    /** The node the writable export reads and writes; it stays the same across fleecing jobs. */
    public BlockNode exportNode() {
        return exportNode;
    }

    public CheckpointSet checkpoints() {
        return checkpoints;
    }

    /** The fleecing job running on this disk, or null. */
    public FleecingJob job() {
        return job.get();
    }

    public BlockNode image() {
        return image;
    }

    public long imageClusterBytes() {
        return imageClusterBytes;
    }

    public SwappableNode swappable() {
        return exportNode;
    }

    public boolean claim(FleecingJob newJob) {
        return job.compareAndSet(null, newJob);
    }

    public void release(FleecingJob oldJob) {
        job.compareAndSet(oldJob, null);
    }

    /** The stack without copy-before-write: what the disk runs on between jobs. */
    public BlockNode plainStack() {
        return trackingOver(image);
    }

    /** Dirty tracking of this disk's changes above {@code below}. */
    public BlockNode trackingOver(BlockNode below) {
        return new DirtyTrackingFilter(below, recorder);
    }

    /** Closes the image (through the current stack). A running job must have been finished. */
    @Override
    public void close() throws BlockIOException {
        if (job.get() != null) {
            throw new IllegalStateException("disk " + name + " still has a fleecing job; finish it first");
        }
        exportNode.close();
    }
}
