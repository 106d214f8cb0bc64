package org.fleeced.daemon.host;

import java.util.List;

import org.fleeced.throttle.AdaptiveReadLimit;
import org.fleeced.throttle.LatencyWindow;
import org.fleeced.throttle.Throttle;

/**
 * The throttle of one job's backup reader, shared by the fleece exports of all its disks (the
 * reader's total, like a QEMU throttle group): fixed limits, or adaptive ones driven by the p99
 * write latency of the job's guests. {@link #set} changes them while the reader runs
 * ({@code PATCH /v1/jobs/{job}}); {@link #tick} moves an adaptive rate.
 *
 * <p>Thread-safe: {@code set} and {@code tick} serialize on this object.
 */
public final class JobThrottle {
    private final Throttle throttle;
    private final List<LatencyWindow> guests;
    /** What the caller asked for. Guarded by this. */
    private ReadLimits limits;
    /** The controller while adaptive, else null. Guarded by this. */
    private AdaptiveReadLimit adaptive;

    JobThrottle(ReadLimits limits, List<LatencyWindow> guests) {
        this.throttle = new Throttle(limits.throttleLimits());
        this.guests = List.copyOf(guests);
        set(limits);
    }

    public Throttle throttle() {
        return throttle;
    }

    public synchronized ReadLimits limits() {
        return limits;
    }

    /** Applies new limits at once, also to reads waiting now. */
    public synchronized void set(ReadLimits newLimits) {
        limits = newLimits;
        throttle.setLimits(newLimits.throttleLimits());
        adaptive = newLimits.adaptive()
                ? new AdaptiveReadLimit(throttle, guests, (long) (newLimits.guestLatencyTargetMillis() * 1_000_000))
                : null;
    }

    public synchronized void tick() {
        if (adaptive != null) {
            adaptive.tick();
        }
    }

    /** The byte rate the reader is held to now (fixed or adaptive); 0 for none. */
    public long effectiveBytesPerSecond() {
        return throttle.limits().bytesPerSecond();
    }

    /** The slowest guest's p99 write latency in microseconds, or -1 while every guest is idle. */
    public long guestWriteP99Micros() {
        long worst = -1;
        for (LatencyWindow w : guests) {
            worst = Math.max(worst, w.percentileNanos(99));
        }
        return worst < 0 ? -1 : worst / 1000;
    }
}
