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
 * cluster is never fetched twice), with up to {@code inFlight} pieces copying at once (the source's
 * latency and the image's writes overlap), at most {@code bytesPerSecond} when a limit is set (a
 * {@link Throttle} of its own that every piece passes before it starts: the guest's fetches are
 * never held back by it). Both can change while it runs ({@link #setLimits}). It persists the
 * restore state every {@value #PERSIST_EVERY_BYTES} bytes or 5 seconds, so a restart resumes near
 * where it stopped, and once more at the end, before {@code onComplete} runs (which takes the
 * filter out of the disk's stack and drops the source). A persist flushes the image before it
 * writes the marks, so a piece still copying is never marked durable.
 *
 * <p>One coordinating thread hands out the pieces and owns the retries; each piece copies on a
 * virtual thread of its own. A source failure stops the handing out; once the pieces in flight
 * are done, it is retried with a doubling backoff (from {@value #FIRST_BACKOFF_MILLIS} ms to
 * {@value #MAX_BACKOFF_MILLIS} ms), reported meanwhile in {@link #progress()}; after
 * {@value #MAX_RETRIES} failures in a row the stream gives up (state failed) until
 * {@link #start} runs it again. The guest's own reads keep trying the source either way, and
 * restored ranges keep working. Before each retry the source is opened again, so a dropped NBD
 * connection comes back.
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
    /** Signalled by stop, by a piece that ends and by a change of limits. Guarded by lock. */
    private final Condition changed = lock.newCondition();
    /** Set by stop, cleared by a start after a failure. Guarded by lock. */
    private boolean stopping;
    /** Set by stop, for good: the disk is closing and the source goes. Guarded by lock. */
    private boolean closed;
    /** Pieces copying now. Guarded by lock. */
    private int running;
    /** The first failure of a piece since the last retry, or null. Guarded by lock. */
    private Exception failure;
    /** Where that piece began: the retry starts there. Guarded by lock. */
    private long failedAt;
    /** How many pieces may copy at once. Guarded by lock. */
    private int inFlight;
    private volatile RestoreProgress.State state = RestoreProgress.State.RUNNING;
    private volatile int retries;
    private volatile String lastError;
    /** Bytes the stream copied since windowStart (both written under lock), and the rate of the last full window. */
    private long windowBytes;
    private volatile long windowStart = System.nanoTime();
    private volatile long rate;
    private Thread thread;

    /** The first backoff after a failure; doubles with each failure in a row. */
    private final long firstBackoffMillis;

    /** The stream's limits, as restoreLimits sets them. */
    public RestoreStream(CopyOnRead restore, RestoreLimits limits, Completion onComplete) {
        this(restore, limits, onComplete, FIRST_BACKOFF_MILLIS);
    }

    /** A stream whose retries begin after {@code firstBackoffMillis} (tests that reach the give-up). */
    RestoreStream(CopyOnRead restore, RestoreLimits limits, Completion onComplete, long firstBackoffMillis) {
        this.firstBackoffMillis = firstBackoffMillis;
        this.restore = restore;
        this.throttle = new Throttle(throttleLimits(limits));
        this.inFlight = limits.inFlight();
        this.onComplete = onComplete;
    }

    /** Starts the stream, or runs it again after it failed; nothing when it runs or is complete. */
    public synchronized void start() {
        if (thread != null && (thread.isAlive() || state == RestoreProgress.State.COMPLETE)) {
            return;
        }
        lock.lock();
        try {
            if (closed) {
                return;
            }
            stopping = false;
        } finally {
            lock.unlock();
        }
        retries = 0;
        state = RestoreProgress.State.RUNNING;
        thread = Thread.ofVirtual().name("restore-" + restore.restored.file().getFileName()).start(this::run);
    }

    /** Takes new limits at once, also for a piece waiting for the old rate. */
    public void setLimits(RestoreLimits limits) {
        throttle.setLimits(throttleLimits(limits));
        lock.lock();
        try {
            inFlight = limits.inFlight();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Stops the stream and waits for it and its pieces; the state stays as persisted for the next start. */
    public void stop() {
        lock.lock();
        try {
            stopping = true;
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        throttle.setLimits(ThrottleLimits.UNLIMITED);
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null && t != Thread.currentThread()) {
            try {
                t.join();
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
            Exception failed = awaitSlot();
            if (failed != null) {
                if (!retryAfter(failed)) {
                    return;
                }
                pos = Math.min(pos, failedAt());
                continue;
            }
            long start = restore.restored.nextUnrestored(pos, size);
            if (start < 0) {
                // pieces in flight are not marked yet: wait for them before looking again or finishing
                if (awaitIdle() != null) {
                    continue;
                }
                if (pos > 0) {
                    pos = 0;
                    continue;
                }
                if (!isStopping()) {
                    finish();
                }
                return;
            }
            long next = restore.restored.nextRestored(start, size);
            long end = Math.min(next < 0 ? size : next, start + CopyOnRead.MAX_FILL_BYTES);
            try {
                throttle.admit(end - start);
            } catch (BlockIOException | RuntimeException e) {
                if (!retryAfter(e)) {
                    return;
                }
                continue;
            }
            if (isStopping()) {
                break;
            }
            launch(start, end);
            pos = end;
            sinceStore += end - start;
            if (sinceStore >= PERSIST_EVERY_BYTES || System.nanoTime() - lastStore >= PERSIST_EVERY_NANOS) {
                sinceStore = 0;
                lastStore = System.nanoTime();
                persistQuietly();
            }
        }
        awaitIdle();
        persistQuietly();
    }

    /** Copies {@code [start, end)} on a thread of its own; the caller holds a slot for it. */
    private void launch(long start, long end) {
        lock.lock();
        try {
            running++;
        } finally {
            lock.unlock();
        }
        Thread.ofVirtual().name("restore-piece-" + start).start(() -> {
            Exception failed = null;
            try {
                restore.fill(start, end - start);
            } catch (BlockIOException | RuntimeException e) {
                failed = e;
            }
            lock.lock();
            try {
                running--;
                if (failed == null) {
                    retries = 0;
                    countedLocked(end - start);
                } else if (failure == null) {
                    failure = failed;
                    failedAt = start;
                }
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        });
    }

    /**
     * Waits until fewer than {@code inFlight} pieces copy, or a piece failed (then for every piece
     * in flight to end): the failure, taken, or null.
     */
    private Exception awaitSlot() {
        lock.lock();
        try {
            while (!stopping && failure == null && running >= inFlight) {
                changed.awaitUninterruptibly();
            }
            return failure == null ? null : takeFailureLocked();
        } finally {
            lock.unlock();
        }
    }

    /** Waits until no piece copies: the failure of one, taken, or null. */
    private Exception awaitIdle() {
        lock.lock();
        try {
            while (running > 0) {
                changed.awaitUninterruptibly();
            }
            return failure == null ? null : takeFailureLocked();
        } finally {
            lock.unlock();
        }
    }

    private Exception takeFailureLocked() {
        while (running > 0) {
            changed.awaitUninterruptibly();
        }
        Exception f = failure;
        failure = null;
        return f;
    }

    private long failedAt() {
        lock.lock();
        try {
            return failedAt;
        } finally {
            lock.unlock();
        }
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
        long backoff = Math.min(MAX_BACKOFF_MILLIS, firstBackoffMillis << Math.min(attempt - 1, 20));
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

    private void countedLocked(long bytes) {
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

    private static ThrottleLimits throttleLimits(RestoreLimits limits) {
        return limits.bytesPerSecond() == 0 ? ThrottleLimits.UNLIMITED : ThrottleLimits.bytesPerSecond(limits.bytesPerSecond());
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
                left = changed.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            stopping = true;
        } finally {
            lock.unlock();
        }
    }
}
