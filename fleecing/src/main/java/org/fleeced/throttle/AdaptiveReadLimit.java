package org.fleeced.throttle;

import java.util.List;

/**
 * Adaptive backup reading (issue 15): sets a reader's {@link Throttle} from the guest's p99
 * write latency, additive-increase/multiplicative-decrease style, one {@link #tick()} at a time
 * (the daemon ticks every {@link #TICK_MILLIS} ms).
 *
 * <ul>
 *   <li>The guest wrote fewer than a handful of times in the window (idle): no limit.</li>
 *   <li>p99 above the target: halve the rate. From no limit, start from half of what the reader
 *       read during the last tick.</li>
 *   <li>p99 at or below the target while limited: raise the rate by a quarter; past
 *       {@link #MAX_BYTES_PER_SECOND} the limit is lifted.</li>
 * </ul>
 * The rate never falls below a floor: {@link #MIN_BYTES_PER_SECOND}, or a
 * {@link #FLOOR_DIVISOR}th of the fastest the reader read while unlimited, whichever is more. A
 * guest whose latency stays above the target with the reader at the floor is slow for reasons
 * of its own (its own copy-before-write, a busy host); holding the reader lower would not help
 * it, and the backup would never end. So a backup takes at most about {@link #FLOOR_DIVISOR}
 * times as long as unthrottled.
 *
 * <p>Not thread-safe: one ticker calls {@link #tick()}; {@link #rateBytesPerSecond()} may be
 * read from any thread.
 */
public final class AdaptiveReadLimit {
    public static final long TICK_MILLIS = 200;
    public static final long MIN_BYTES_PER_SECOND = 1L << 20;
    public static final long MAX_BYTES_PER_SECOND = 4L << 30;
    public static final long FLOOR_DIVISOR = 16;

    private final Throttle reader;
    private final List<LatencyWindow> guestWrites;
    private final long targetNanos;
    /** The rate set now, 0 for none. */
    private volatile long rate;
    private long lastAdmitted;
    private long lastTickNanos;
    /** The fastest the reader read in a tick while unlimited. */
    private long peakReadRate;

    /**
     * @param guestWrites the write latencies of every disk the reader reads: the slowest one's p99 counts
     */
    public AdaptiveReadLimit(Throttle reader, List<LatencyWindow> guestWrites, long targetNanos) {
        if (guestWrites.isEmpty()) {
            throw new IllegalArgumentException("adaptive reading needs a guest to watch");
        }
        this.reader = reader;
        this.guestWrites = List.copyOf(guestWrites);
        this.targetNanos = targetNanos;
        this.lastAdmitted = reader.admittedBytes();
        this.lastTickNanos = this.guestWrites.getFirst().now();
        reader.setLimits(reader.limits().withBytesPerSecond(0));
    }

    /** The byte rate the reader is held to now; 0 when it reads at full speed. */
    public long rateBytesPerSecond() {
        return rate;
    }

    public long targetNanos() {
        return targetNanos;
    }

    /** The lowest rate the reader is held to. */
    public long floorBytesPerSecond() {
        return Math.max(MIN_BYTES_PER_SECOND, peakReadRate / FLOOR_DIVISOR);
    }

    /** The highest p99 write latency of the watched disks now, or -1 when every one is idle. */
    public long guestP99Nanos() {
        long worst = -1;
        for (LatencyWindow w : guestWrites) {
            worst = Math.max(worst, w.percentileNanos(99));
        }
        return worst;
    }

    /** Looks at the guest's latency and sets the reader's rate. */
    public void tick() {
        long now = guestWrites.getFirst().now();
        long admitted = reader.admittedBytes();
        double seconds = Math.max(1e-3, (now - lastTickNanos) / 1e9);
        long readRate = (long) ((admitted - lastAdmitted) / seconds);
        lastAdmitted = admitted;
        lastTickNanos = now;

        if (rate == 0) {
            peakReadRate = Math.max(peakReadRate, readRate);
        }
        long floor = floorBytesPerSecond();
        long p99 = guestP99Nanos();
        long next;
        if (p99 < 0) {
            next = 0;
        } else if (p99 > targetNanos) {
            long from = rate != 0 ? rate : readRate;
            next = Math.max(floor, from / 2);
        } else if (rate != 0) {
            next = rate + Math.max(MIN_BYTES_PER_SECOND, rate / 4);
            if (next > MAX_BYTES_PER_SECOND) {
                next = 0;
            }
        } else {
            next = 0;
        }
        if (next != rate) {
            rate = next;
            reader.setLimits(reader.limits().withBytesPerSecond(next));
        }
    }
}
