package org.fleeced.throttle;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * The latencies of the most recent requests, for a percentile over a sliding window: the last
 * {@code windowNanos}, and at most the last {@link #CAPACITY} requests (a guest doing 60,000
 * writes a second fills it in a quarter of a second; the percentile is then over those).
 * Recording is lock-free (one slot of a ring per request); a percentile copies the ring, so a
 * request recorded meanwhile may or may not count, which a statistic can live with.
 */
public final class LatencyWindow {
    static final int CAPACITY = 16384;
    /** Fewer samples than this in the window: the guest is idle, there is no percentile. */
    static final int MIN_SAMPLES = 16;

    private final long windowNanos;
    private final LongSupplier nanoClock;
    private final AtomicLong next = new AtomicLong();
    private final AtomicLongArray endedAt = new AtomicLongArray(CAPACITY);
    private final AtomicLongArray latency = new AtomicLongArray(CAPACITY);

    public LatencyWindow(long windowNanos) {
        this(windowNanos, System::nanoTime);
    }

    LatencyWindow(long windowNanos, LongSupplier nanoClock) {
        this.windowNanos = windowNanos;
        this.nanoClock = nanoClock;
    }

    long now() {
        return nanoClock.getAsLong();
    }

    /** Records a request that took {@code nanos} and ended now. */
    public void record(long nanos) {
        int slot = (int) (next.getAndIncrement() & (CAPACITY - 1));
        latency.set(slot, nanos);
        endedAt.set(slot, nanoClock.getAsLong() | 1);
    }

    /**
     * The {@code percentile} (0 to 100) of the latencies in the window, in nanoseconds, or -1 when
     * fewer than {@link #MIN_SAMPLES} requests ended in it.
     */
    public long percentileNanos(double percentile) {
        long from = nanoClock.getAsLong() - windowNanos;
        long[] values = new long[CAPACITY];
        int n = 0;
        for (int i = 0; i < CAPACITY; i++) {
            long t = endedAt.get(i);
            if (t != 0 && t - from >= 0) {
                values[n++] = latency.get(i);
            }
        }
        if (n < MIN_SAMPLES) {
            return -1;
        }
        Arrays.sort(values, 0, n);
        int rank = (int) Math.ceil(percentile / 100 * n) - 1;
        return values[Math.clamp(rank, 0, n - 1)];
    }
}
