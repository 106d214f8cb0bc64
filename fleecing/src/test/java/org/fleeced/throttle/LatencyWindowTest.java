package org.fleeced.throttle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The window on a hand-driven clock: percentiles over exactly the requests in it, and a ring sized by the rate. */
class LatencyWindowTest {
    private static final long MS = 1_000_000;
    private static final long WINDOW = 1000 * MS;
    private final AtomicLong clock = new AtomicLong(1_000_000 * MS);
    private final LatencyWindow window = new LatencyWindow(WINDOW, clock::get);

    @Test
    void aDiskThatNeverWroteHoldsNoRing() {
        assertEquals(0, window.slots());
        assertEquals(-1, window.percentileNanos(99));
    }

    @Test
    void thePercentileCountsEveryRequestInTheWindowWhileTheRingGrows() {
        for (int i = 1; i <= 1000; i++) {
            window.record(i * MS);
        }
        assertEquals(1024, window.slots(), "64, 256, then 1024 slots: each growth kept what was recorded");
        assertEquals(990 * MS, window.percentileNanos(99));
        assertEquals(500 * MS, window.percentileNanos(50));
    }

    @Test
    void aSlowGuestKeepsTheSmallestRing() {
        for (int i = 1; i <= 10_000; i++) {
            clock.addAndGet(WINDOW / 32);
            window.record(i % 100 == 0 ? 50 * MS : MS);
        }
        assertEquals(LatencyWindow.MIN_CAPACITY, window.slots(), "32 requests a window fit in the first ring");
        assertEquals(MS, window.percentileNanos(50));
    }

    @Test
    void requestsThatLeftTheWindowDoNotCount() {
        for (int i = 0; i < 100; i++) {
            window.record(5 * MS);
        }
        clock.addAndGet(WINDOW + MS);
        assertEquals(-1, window.percentileNanos(99));
        for (int i = 0; i < LatencyWindow.MIN_SAMPLES; i++) {
            window.record(7 * MS);
        }
        assertEquals(7 * MS, window.percentileNanos(99));
        assertEquals(256, window.slots(), "the 100 early requests had grown it; the later ones fit");
    }

    @Test
    void theRingStopsGrowingAtItsCapacityAndKeepsTheLatestRequests() {
        for (int i = 0; i < LatencyWindow.CAPACITY; i++) {
            window.record(100 * MS);
        }
        for (int i = 0; i < LatencyWindow.CAPACITY; i++) {
            window.record(MS);
        }
        assertEquals(LatencyWindow.CAPACITY, window.slots());
        assertEquals(MS, window.percentileNanos(99), "the older slow requests were overwritten");
    }
}
