package org.fleeced.throttle;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * Two token buckets, bytes and operations, that requests wait on (QEMU's throttle groups, one
 * member).
 *
 * <h2>Mechanism</h2>
 * Each bucket holds up to its burst of tokens and refills at its rate. A request is admitted
 * when both buckets hold at least zero tokens, and then takes its whole size from them, so a
 * bucket may go negative: a request larger than the burst passes, and the ones after it wait
 * until the debt is paid back (QEMU's leaky bucket does the same). Over any span of {@code t}
 * seconds at most {@code burst + rate * t} plus one request passes, which is what tests check,
 * from below only. Waiters sleep on a condition with the time their debt needs, so that
 * {@link #setLimits} takes effect at once, also for requests already waiting.
 *
 * <p>Thread-safe: {@code lock} guards both buckets and the limits.
 */
public final class Throttle {
    private final LongSupplier nanoClock;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Guarded by lock. */
    private ThrottleLimits limits;
    /**
     * True while the limits are unlimited: requests pass without the lock (every guest request of
     * a disk without ioLimits goes through a throttle). Written under lock.
     */
    private volatile boolean unlimited;
    /** Tokens in the buckets, negative while in debt. Guarded by lock. */
    private double bytesLevel;
    private double opsLevel;
    /** When the buckets were last refilled. Guarded by lock. */
    private long refilledAt;

    private final LongAdder admittedBytes = new LongAdder();
    private final LongAdder delayedRequests = new LongAdder();
    private final LongAdder delayNanos = new LongAdder();

    public Throttle(ThrottleLimits limits) {
        this(limits, System::nanoTime);
    }

    Throttle(ThrottleLimits limits, LongSupplier nanoClock) {
        this.nanoClock = nanoClock;
        this.limits = limits;
        this.unlimited = limits.unlimited();
        this.refilledAt = nanoClock.getAsLong();
        this.bytesLevel = limits.bucketBytes();
        this.opsLevel = limits.bucketOps();
    }

    public ThrottleLimits limits() {
        lock.lock();
        try {
            return limits;
        } finally {
            lock.unlock();
        }
    }

    /** Changes the limits; waiting requests are judged by the new ones at once. */
    public void setLimits(ThrottleLimits newLimits) {
        lock.lock();
        try {
            refillLocked(nanoClock.getAsLong());
            limits = newLimits;
            unlimited = newLimits.unlimited();
            bytesLevel = Math.min(bytesLevel, newLimits.bucketBytes());
            opsLevel = Math.min(opsLevel, newLimits.bucketOps());
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until a request of {@code bytes} (and one operation) may pass, and charges it.
     *
     * @throws BlockIOException EIO when the waiting thread is interrupted
     */
    public void admit(long bytes) throws BlockIOException {
        if (unlimited) {
            admittedBytes.add(bytes);
            return;
        }
        long started = 0;
        lock.lock();
        try {
            while (true) {
                long now = nanoClock.getAsLong();
                refillLocked(now);
                long waitNanos = Math.max(debtNanos(bytesLevel, limits.bytesPerSecond()),
                        debtNanos(opsLevel, limits.opsPerSecond()));
                if (waitNanos <= 0) {
                    break;
                }
                if (started == 0) {
                    started = now;
                    delayedRequests.increment();
                }
                changed.awaitNanos(waitNanos);
            }
            if (limits.bytesPerSecond() > 0) {
                bytesLevel -= bytes;
            }
            if (limits.opsPerSecond() > 0) {
                opsLevel -= 1;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BlockIOException(Errno.EIO, "interrupted while throttled", e);
        } finally {
            lock.unlock();
        }
        if (started != 0) {
            delayNanos.add(nanoClock.getAsLong() - started);
        }
        admittedBytes.add(bytes);
    }

    /** Bytes admitted so far. */
    public long admittedBytes() {
        return admittedBytes.sum();
    }

    /** Requests that had to wait, and how long they waited in all. */
    public long delayedRequests() {
        return delayedRequests.sum();
    }

    public long delayNanos() {
        return delayNanos.sum();
    }

    private void refillLocked(long now) {
        double seconds = (now - refilledAt) / 1e9;
        refilledAt = now;
        if (limits.bytesPerSecond() > 0) {
            bytesLevel = Math.min(limits.bucketBytes(), bytesLevel + seconds * limits.bytesPerSecond());
        }
        if (limits.opsPerSecond() > 0) {
            opsLevel = Math.min(limits.bucketOps(), opsLevel + seconds * limits.opsPerSecond());
        }
    }

    /** How long until a bucket at {@code level} is out of debt at {@code rate}; 0 when unlimited or not in debt. */
    private static long debtNanos(double level, long rate) {
        if (rate == 0 || level >= 0) {
            return 0;
        }
        return Math.max(1, (long) Math.ceil(-level / rate * TimeUnit.SECONDS.toNanos(1)));
    }
}
