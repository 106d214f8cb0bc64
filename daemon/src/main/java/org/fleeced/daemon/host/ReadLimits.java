package org.fleeced.daemon.host;

import org.fleeced.throttle.ThrottleLimits;

/**
 * The limits of a job's reader ({@code readLimits}) or of a disk's guest ({@code ioLimits}), as
 * the API and the configuration name them; 0 means "not limited" for each.
 *
 * @param guestLatencyTargetMillis adaptive reading: keep the guest's p99 write latency at or
 *                                 below this (jobs only); when set, the byte rate is adaptive
 */
public record ReadLimits(long bytesPerSecond, long opsPerSecond, long burstBytes, double guestLatencyTargetMillis) {
    public static final ReadLimits NONE = new ReadLimits(0, 0, 0, 0);

    public ReadLimits {
        if (bytesPerSecond < 0 || opsPerSecond < 0 || burstBytes < 0 || guestLatencyTargetMillis < 0) {
            throw new IllegalArgumentException("limits cannot be negative");
        }
    }

    public boolean adaptive() {
        return guestLatencyTargetMillis > 0;
    }

    public ThrottleLimits throttleLimits() {
        return new ThrottleLimits(bytesPerSecond, opsPerSecond, burstBytes, 0);
    }
}
