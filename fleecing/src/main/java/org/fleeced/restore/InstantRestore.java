package org.fleeced.restore;

import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;

/**
 * One disk's restore, from start (or resume) to completion: the source, the durable state, the
 * copy-on-read filter the disk puts over its image, and the background stream. The disk
 * ({@code org.fleeced.disk.ActiveDisk}) owns it and takes the filter out when the stream reports
 * completion; then {@link #finish()} drops the source and the state, and the image stands alone.
 */
public final class InstantRestore {
    /** The policy filter's name in a disk's stack. */
    public static final String FILTER_NAME = "copy-on-read";

    private final CopyOnRead state;
    /** The stream's limits; changed by {@link #setLimits}. */
    private volatile RestoreLimits limits;
    private volatile RestoreStream stream;
    private volatile boolean finished;

    private InstantRestore(CopyOnRead state, RestoreLimits limits) {
        this.state = state;
        this.limits = limits;
    }

    /**
     * The restore of the image at {@code imagePath}, opened as {@code image}: resumed from its
     * restore state when it has one, else begun when {@code plan} is given; null when there is
     * nothing to restore. A state whose every cluster is restored is deleted (a crash came
     * between completion and cleanup). The source is opened here.
     *
     * @throws BlockIOException EIO when the image has an unfinished restore and no source was
     *     given, or its state is damaged; EINVAL when the source's size is not the image's
     */
    public static InstantRestore open(Path imagePath, BlockNode image, long clusterBytes, RestorePlan plan)
            throws BlockIOException {
        RestoredClusters pending = RestoredClusters.load(imagePath, image.size());
        if (pending != null && pending.complete()) {
            pending.delete();
            pending = null;
        }
        if (pending == null && plan == null) {
            return null;
        }
        if (plan == null) {
            throw new BlockIOException(Errno.EIO, imagePath + " is being restored from " + pending.source()
                    + " (state in " + pending.file() + "); it can only be opened with that source");
        }
        BlockNode source = ZeroTailSource.fitted(plan.source().open(), image.size());
        try {
            RestoredClusters restored = pending != null ? pending
                    : RestoredClusters.create(imagePath, image.size(), clusterBytes, plan.source().describe());
            return new InstantRestore(new CopyOnRead(source, plan.source(), image, restored), plan.limits());
        } catch (BlockIOException | RuntimeException e) {
            source.close();
            throw e;
        }
    }

    /**
     * The size of the image a restore from a source of {@code sourceBytes} creates: rounded up to
     * 512 (a qcow2 image's size is whole sectors, as {@code qemu-img convert} rounds it); the tail
     * past the source's end reads as zeroes.
     */
    public static long imageSizeFor(long sourceBytes) {
        return ZeroTailSource.imageSize(sourceBytes);
    }

    /** Builds the copy-on-read filter over the image. */
    public UnaryOperator<BlockNode> filter() {
        return below -> new CopyOnReadFilter(below, state);
    }

    /** Starts the background stream; {@code onComplete} takes the filter out of the stack. */
    public void start(RestoreStream.Completion onComplete) {
        stream = new RestoreStream(state, limits, onComplete);
        stream.start();
    }

    /** The stream's limits now. */
    public RestoreLimits limits() {
        return limits;
    }

    /** Changes the stream's limits at once, and runs it again when it had given up after failures. */
    public void setLimits(RestoreLimits newLimits) {
        limits = newLimits;
        RestoreStream s = stream;
        if (s != null) {
            s.setLimits(newLimits);
            s.start();
        }
    }

    public RestoreProgress progress() {
        RestoreStream s = stream;
        if (s != null) {
            return s.progress();
        }
        long done = state.restored.restoredBytes();
        return new RestoreProgress(RestoreProgress.State.RUNNING, done, state.restored.sizeBytes(), 0, -1, 0, null);
    }

    /** What the restore reads from. */
    public String sourceDescription() {
        return state.restored.source();
    }

    /** The filter is out of the stack: closes the source and deletes the state. */
    public void finish() throws BlockIOException {
        finished = true;
        try {
            state.source.close();
        } finally {
            state.restored.delete();
        }
    }

    /**
     * Stops the stream (the disk is closing) and closes the source; the state stays for the next
     * open to resume. Call before the disk's stack is closed, which persists the state last.
     */
    public void stop() throws BlockIOException {
        RestoreStream s = stream;
        if (s != null) {
            s.stop();
        }
        if (!finished) {
            state.source.close();
        }
    }
}
