package org.fleeced.restore;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.fleeced.block.BlockIOException;
import org.fleeced.throttle.Throttle;
import org.fleeced.throttle.ThrottleLimits;

/**
 * The background half of a restore: copies every cluster still unrestored, in order, in pieces of
 * at most {@link CopyOnRead#MAX_FILL_BYTES}, through the same fill the guest's reads use (so a
 * cluster is never fetched twice), at most {@code bytesPerSecond} when a limit is set (a
 * {@link Throttle} of its own: the guest's fetches are never held back by it). It persists
 * the restore state every {@value #PERSIST_EVERY_BYTES} bytes or 5 seconds, so a restart resumes
 * near where it stopped, and once more at the end, before {@code onComplete} runs (which takes the filter out
 * of the disk's stack and drops the source).
 *
 * <p>A source failure is retried with a doubling backoff (from {@value #FIRST_BACKOFF_MILLIS} ms
 * to {@value #MAX_BACKOFF_MILLIS} ms), reported meanwhile in {@link #progress()}; after
 * {@value #MAX_RETRIES} failures in a row the stream gives up (state failed). The guest's own
 * reads keep trying the source either way, and restored ranges keep working. Before each retry the
 * source is opened again, so a dropped NBD connection comes back.
 */
public final class RestoreStream {
    private static final System.Logger LOG = System.getLogger(RestoreStream.class.getName());
    static final long PERSIST_EVERY_BYTES = 256L << 20;
    static final long PERSIST_EVERY_NANOS = TimeUnit.SECONDS.toNanos(5);
    static final long FIRST_BACKOFF_MILLIS = 100;
    static final long MAX_BACKOFF_MILLIS = 30_000;
    static final int MAX_RETRIES = 12;
    /** The window over which bytesPerSecond is measured. */
    private static final long RATE_WINDOW_NANOS = TimeUnit.SECONDS.toNanos(2);

    /** What runs when every cluster is restored and the state is durable. */
    @FunctionalInterface
    public interface Completion {
        void run() throws BlockIOException;
    }

    private final CopyOnRead restore;
    /** The stream's limit (restoreLimits); lifted by stop, so that a wait for it ends at once. */
    private final Throttle throttle;
    private final Completion onComplete;
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled by stop, to cut a backoff or a rate-limit wait short. Guarded by lock. */
    private final Condition stopped = lock.newCondition();
    /** Guarded by lock. */
    private boolean stopping;
    private volatile RestoreProgress.State state = RestoreProgress.State.RUNNING;
    private volatile int retries;
    private volatile String lastError;
    /** Bytes the stream copied since windowStart, and the rate of the last full window. */
    private volatile long windowBytes;
    private volatile long windowStart = System.nanoTime();
    private volatile long rate;
    private Thread thread;

    /**
     * @param bytesPerSecond the stream's limit, 0 for none (the guest's own fetches are never limited)
     */
    public RestoreStream(CopyOnRead restore, long bytesPerSecond, Completion onComplete) {
        this.restore = restore;
        this.throttle = new Throttle(bytesPerSecond == 0 ? ThrottleLimits.UNLIMITED
                : ThrottleLimits.bytesPerSecond(bytesPerSecond));
        this.onComplete = onComplete;
    }

    public void start() {
        thread = Thread.ofVirtual().name("restore-" + restore.restored.file().getFileName()).start(this::run);
    }

    /** Stops the stream and waits for it; the state stays as persisted for the next start. */
    public void stop() {
        lock.lock();
        try {
            stopping = true;
            stopped.signalAll();
        } finally {
            lock.unlock();
        }
        throttle.setLimits(ThrottleLimits.UNLIMITED);
        if (thread != null && thread != Thread.currentThread()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public RestoreProgress progress() {
        long done = restore.restored.restoredBytes();
        long total = restore.restored.sizeBytes();
        long now = System.nanoTime();
        long bps = state == RestoreProgress.State.RUNNING && now - windowStart < 2 * RATE_WINDOW_NANOS ? rate : 0;
        long eta = state == RestoreProgress.State.COMPLETE ? 0 : bps > 0 ? (total - done + bps - 1) / bps : -1;
        return new RestoreProgress(state, done, total, bps, eta, retries, lastError);
    }

    private void run() {
        long sinceStore = 0;
        long lastStore = System.nanoTime();
        long pos = 0;
        long size = restore.restored.sizeBytes();
        while (!isStopping()) {
            long start = restore.restored.nextUnrestored(pos, size);
            if (start < 0 && pos > 0) {
                pos = 0;
                continue;
            }
            if (start < 0) {
                finish();
                return;
            }
            long next = restore.restored.nextRestored(start, size);
            long end = Math.min(next < 0 ? size : next, start + CopyOnRead.MAX_FILL_BYTES);
            try {
                throttle.admit(end - start);
                if (isStopping()) {
                    break;
                }
                restore.fill(start, end - start);
                retries = 0;
            } catch (BlockIOException | RuntimeException e) {
                if (!retryAfter(e)) {
                    return;
                }
                continue;
            }
            pos = end;
            counted(end - start);
            sinceStore += end - start;
            if (sinceStore >= PERSIST_EVERY_BYTES || System.nanoTime() - lastStore >= PERSIST_EVERY_NANOS) {
                sinceStore = 0;
                lastStore = System.nanoTime();
                persistQuietly();
            }
        }
        persistQuietly();
    }

    private void finish() {
        try {
            restore.restored.persist(restore.image);
            onComplete.run();
            state = RestoreProgress.State.COMPLETE;
            LOG.log(System.Logger.Level.INFO, "restore into {0} complete", restore.image.describe());
        } catch (BlockIOException | RuntimeException e) {
            lastError = e.toString();
            state = RestoreProgress.State.FAILED;
            LOG.log(System.Logger.Level.ERROR, "restore into {0} could not complete: {1}", restore.image.describe(), e);
        }
    }

    /** Waits out the backoff for one more failure; false when the stream gives up or stops. */
    private boolean retryAfter(Exception e) {
        lastError = e.toString();
        int attempt = ++retries;
        LOG.log(System.Logger.Level.WARNING, "restore into {0}: attempt {1} failed: {2}",
                restore.image.describe(), attempt, e);
        if (attempt >= MAX_RETRIES) {
            state = RestoreProgress.State.FAILED;
            persistQuietly();
            return false;
        }
        long backoff = Math.min(MAX_BACKOFF_MILLIS, FIRST_BACKOFF_MILLIS << Math.min(attempt - 1, 20));
        waitNanos(TimeUnit.MILLISECONDS.toNanos(backoff));
        if (isStopping()) {
            return false;
        }
        try {
            restore.reopenSource();
        } catch (BlockIOException | RuntimeException reopen) {
            lastError = reopen.toString();
        }
        return true;
    }

    private void counted(long bytes) {
        long now = System.nanoTime();
        windowBytes += bytes;
        if (now - windowStart >= RATE_WINDOW_NANOS) {
            rate = windowBytes * 1_000_000_000L / (now - windowStart);
            windowBytes = 0;
            windowStart = now;
        } else if (rate == 0) {
            rate = windowBytes * 1_000_000_000L / Math.max(1, now - windowStart);
        }
    }

    private void persistQuietly() {
        try {
            restore.restored.persist(restore.image);
        } catch (BlockIOException | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "restore into {0}: persisting the state failed: {1}",
                    restore.image.describe(), e);
        }
    }

    private boolean isStopping() {
        lock.lock();
        try {
            return stopping;
        } finally {
            lock.unlock();
        }
    }

    /** Waits up to {@code nanos}, or until stop. */
    private void waitNanos(long nanos) {
        lock.lock();
        try {
            long left = nanos;
            while (!stopping && left > 0) {
                left = stopped.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopping = true;
        } finally {
            lock.unlock();
        }
    }
}
