package org.fleeced.throttle;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * The latencies of the most recent requests, for a percentile over a sliding window: the last
 * {@code windowNanos}, and at most the last {@link #CAPACITY} requests (a guest doing 60,000
 * writes a second fills it in a quarter of a second; the percentile is then over those).
 * Recording is lock-free (one slot of a ring per request); a percentile copies the ring, so a
 * request recorded meanwhile may or may not count, which a statistic can live with.
 *
 * <p>Every attached disk has one, and most disks write little: the ring is made on the first
 * request with {@link #MIN_CAPACITY} slots and grows fourfold, up to {@link #CAPACITY}, only when
 * a request would overwrite a slot that is still inside the window. A disk that never writes holds
 * no ring; a busy one holds what its rate needs (the full ring is 256 KiB, which at 100 attached
 * disks was a quarter of the daemon's live heap). A request recorded into the old ring while it
 * is copied may be lost, once per growth.
 */
public final class LatencyWindow {
    static final int CAPACITY = 16384;
    static final int MIN_CAPACITY = 64;
    /** Fewer samples than this in the window: the guest is idle, there is no percentile. */
    static final int MIN_SAMPLES = 16;

    private final long windowNanos;
    private final LongSupplier nanoClock;
    /** Null until the first request; replaced (never changed in size) when it grows. */
    private volatile Ring ring;
    /** Serializes making and growing the ring; recording into it takes no lock. */
    private final ReentrantLock growLock = new ReentrantLock();

    /** One ring of slots: the end time ({@code | 1}, 0 = empty) and latency of a request each. */
    private record Ring(AtomicLong next, AtomicLongArray endedAt, AtomicLongArray latency) {
        Ring(int slots) {
            this(new AtomicLong(), new AtomicLongArray(slots), new AtomicLongArray(slots));
        }

        int slots() {
            return endedAt.length();
        }
    }

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
        long endedAt = nanoClock.getAsLong() | 1;
        Ring r = ring;
        if (r == null) {
            r = grown(null);
        }
        int slot = (int) (r.next().getAndIncrement() & (r.slots() - 1));
        long previous = r.endedAt().get(slot);
        if (previous != 0 && previous - (endedAt - windowNanos) >= 0 && r.slots() < CAPACITY) {
            r = grown(r);
            slot = (int) (r.next().getAndIncrement() & (r.slots() - 1));
        }
        r.latency().set(slot, nanos);
        r.endedAt().set(slot, endedAt);
    }

    /**
     * The ring after {@code seen}: a new one of {@link #MIN_CAPACITY} slots when there is none, a
     * fourfold copy of {@code seen}, or the ring another thread made meanwhile.
     */
    private Ring grown(Ring seen) {
        growLock.lock();
        try {
            Ring current = ring;
            if (current != seen) {
                return current;
            }
            if (seen == null) {
                ring = new Ring(MIN_CAPACITY);
                return ring;
            }
            Ring bigger = new Ring(Math.min(CAPACITY, seen.slots() * 4));
            for (int i = 0; i < seen.slots(); i++) {
                bigger.latency().set(i, seen.latency().get(i));
                bigger.endedAt().set(i, seen.endedAt().get(i));
            }
            bigger.next().set(seen.slots());
            ring = bigger;
            return bigger;
        } finally {
            growLock.unlock();
        }
    }

    /** Slots of the ring now (0 before the first request). */
    int slots() {
        Ring r = ring;
        return r == null ? 0 : r.slots();
    }

    /**
     * The {@code percentile} (0 to 100) of the latencies in the window, in nanoseconds, or -1 when
     * fewer than {@link #MIN_SAMPLES} requests ended in it.
     */
    public long percentileNanos(double percentile) {
        Ring r = ring;
        if (r == null) {
            return -1;
        }
        long from = nanoClock.getAsLong() - windowNanos;
        long[] values = new long[r.slots()];
        int n = 0;
        for (int i = 0; i < r.slots(); i++) {
            long t = r.endedAt().get(i);
            if (t != 0 && t - from >= 0) {
                values[n++] = r.latency().get(i);
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
