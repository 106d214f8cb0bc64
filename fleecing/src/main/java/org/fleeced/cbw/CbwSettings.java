package org.fleeced.cbw;

import java.time.Duration;
import java.util.Objects;
import org.fleeced.block.Alignment;

/**
 * How one copy-before-write filter behaves.
 *
 * @param clusterBytes the CBW cluster, the unit copied and discarded: a power of two from
 *                     {@link #MIN_CLUSTER_BYTES} to {@link #MAX_CLUSTER_BYTES}, and at least the
 *                     image's cluster (checked by {@link #requireFits})
 * @param onCbwError   what a failed copy breaks
 * @param timeoutNanos how long a guest write waits for its copies before the copy counts as
 *                     failed; 0 for no limit. 64-bit nanoseconds: QEMU kept this in 32 bits and
 *                     values above about 4.3 s overflowed (fixed in commit 10b1e09e).
 */
public record CbwSettings(long clusterBytes, OnCbwError onCbwError, long timeoutNanos) {
    public static final long MIN_CLUSTER_BYTES = 64 << 10;
    public static final long MAX_CLUSTER_BYTES = 4 << 20;

    public CbwSettings {
        Objects.requireNonNull(onCbwError);
        if (!Alignment.isPowerOfTwo(clusterBytes) || clusterBytes < MIN_CLUSTER_BYTES || clusterBytes > MAX_CLUSTER_BYTES) {
            throw new IllegalArgumentException("the CBW cluster must be a power of two from 64 KiB to 4 MiB, not "
                    + clusterBytes);
        }
        if (timeoutNanos < 0) {
            throw new IllegalArgumentException("negative cbw-timeout " + timeoutNanos + " ns");
        }
    }

    /** {@code timeout} zero or null means no limit. */
    public static CbwSettings of(long clusterBytes, OnCbwError onCbwError, Duration timeout) {
        return new CbwSettings(clusterBytes, onCbwError, timeout == null ? 0 : timeout.toNanos());
    }

    /** The default CBW cluster for an image: max(64 KiB, its cluster). */
    public static long defaultClusterBytes(long imageClusterBytes) {
        return Math.max(MIN_CLUSTER_BYTES, imageClusterBytes);
    }

    /** Refuses a CBW cluster smaller than the image's cluster: discards would never free anything. */
    public void requireFits(long imageClusterBytes) {
        if (clusterBytes < imageClusterBytes) {
            throw new IllegalArgumentException("the CBW cluster (" + clusterBytes + ") is smaller than the image's ("
                    + imageClusterBytes + ")");
        }
    }

    public boolean hasTimeout() {
        return timeoutNanos > 0;
    }
}
