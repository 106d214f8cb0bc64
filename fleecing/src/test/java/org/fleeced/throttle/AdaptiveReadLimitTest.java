package org.fleeced.throttle;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The controller on a hand-driven clock: each tick sees exactly the latencies the test recorded. */
class AdaptiveReadLimitTest {
    private static final long MS = 1_000_000;
    private final AtomicLong clock = new AtomicLong(1_000_000 * MS);
    private final LatencyWindow guest = new LatencyWindow(1000 * MS, clock::get);
    private final Throttle reader = new Throttle(ThrottleLimits.UNLIMITED, clock::get);
    private final AdaptiveReadLimit limit = new AdaptiveReadLimit(reader, List.of(guest), 5 * MS);

    private void guestWrites(int count, long latency) {
        for (int i = 0; i < count; i++) {
            guest.record(latency);
        }
    }

    private void readerReads(long bytes) throws Exception {
        reader.admit(bytes);
    }

    private void tick() {
        clock.addAndGet(200 * MS);
        limit.tick();
    }

    @Test
    void anIdleGuestLeavesTheReaderUnlimited() throws Exception {
        readerReads(100L << 20);
        tick();
        assertEquals(0, limit.rateBytesPerSecond());
        assertEquals(0, reader.limits().bytesPerSecond());
    }

    @Test
    void slowGuestWritesHalveTheReaderFromWhatItReadThenQuickWritesRaiseItUntilTheLimitIsLifted() throws Exception {
        readerReads(200L << 20);
        guestWrites(100, 20 * MS);
        tick();
        assertEquals(500L << 20, limit.rateBytesPerSecond(), "half of 200 MiB in 0.2 s");
        assertEquals(500L << 20, reader.limits().bytesPerSecond());
        tick();
        assertEquals(250L << 20, limit.rateBytesPerSecond(), "still slow: halved again");

        clock.addAndGet(2000 * MS);
        guestWrites(100, MS);
        tick();
        long raised = limit.rateBytesPerSecond();
        assertEquals((250L << 20) + (250L << 20) / 4, raised);
        for (int i = 0; i < 100 && limit.rateBytesPerSecond() != 0; i++) {
            guestWrites(100, MS);
            tick();
        }
        assertEquals(0, limit.rateBytesPerSecond(), "quick writes for long enough lift the limit");
    }

    @Test
    void theFloorIsASixteenthOfTheFastestUnlimitedReading() throws Exception {
        readerReads(320L << 20);
        guestWrites(50, 100 * MS);
        tick();
        for (int i = 0; i < 40; i++) {
            guestWrites(50, 100 * MS);
            tick();
        }
        assertEquals((1600L << 20) / 16, limit.rateBytesPerSecond(), "320 MiB in 0.2 s while unlimited");
    }

    @Test
    void theRateNeverFallsBelowTheFloor() throws Exception {
        for (int i = 0; i < 40; i++) {
            guestWrites(50, 100 * MS);
            tick();
        }
        assertEquals(AdaptiveReadLimit.MIN_BYTES_PER_SECOND, limit.rateBytesPerSecond());
    }
}
