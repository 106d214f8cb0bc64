package org.fleeced.throttle;

/**
 * The limits of a {@link Throttle}; 0 means unlimited for each rate.
 *
 * @param bytesPerSecond the sustained byte rate
 * @param opsPerSecond   the sustained request rate
 * @param burstBytes     how many bytes may pass at once after an idle spell; 0 for a tenth of a
 *                       second's worth (QEMU's default bucket size)
 * @param burstOps       the same for requests
 */
public record ThrottleLimits(long bytesPerSecond, long opsPerSecond, long burstBytes, long burstOps) {
    public static final ThrottleLimits UNLIMITED = new ThrottleLimits(0, 0, 0, 0);

    public ThrottleLimits {
        if (bytesPerSecond < 0 || opsPerSecond < 0 || burstBytes < 0 || burstOps < 0) {
            throw new IllegalArgumentException("throttle limits cannot be negative");
        }
    }

    public static ThrottleLimits bytesPerSecond(long rate) {
        return new ThrottleLimits(rate, 0, 0, 0);
    }

    public boolean unlimited() {
        return bytesPerSecond == 0 && opsPerSecond == 0;
    }

    /** The same limits with another byte rate (burst kept). */
    public ThrottleLimits withBytesPerSecond(long rate) {
        return new ThrottleLimits(rate, opsPerSecond, burstBytes, burstOps);
    }

    long bucketBytes() {
        return burstBytes > 0 ? burstBytes : Math.max(1, bytesPerSecond / 10);
    }

    long bucketOps() {
        return burstOps > 0 ? burstOps : Math.max(1, opsPerSecond / 10);
    }
}
