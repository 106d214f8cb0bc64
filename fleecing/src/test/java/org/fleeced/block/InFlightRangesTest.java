package org.fleeced.block;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class InFlightRangesTest {
    private final InFlightRanges ranges = new InFlightRanges();

    @Test
    void waitForOverlappingReturnsOnlyAfterTheOverlappingRangeIsReleased() {
        InFlightRanges.Ticket read = ranges.register(4096, 4096);
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                ranges.waitForOverlapping(8191, 10);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, Thread::startVirtualThread);
        await().during(Duration.ofMillis(100)).atMost(Duration.ofSeconds(2)).until(() -> !writer.isDone());
        read.close();
        await().atMost(Duration.ofSeconds(5)).until(writer::isDone);
    }

    @Test
    void disjointRangesDoNotWait() throws Exception {
        try (InFlightRanges.Ticket a = ranges.register(0, 4096)) {
            ranges.waitForOverlapping(4096, 4096);
            assertFalse(ranges.anyOverlap(4096, 4096));
            assertTrue(ranges.anyOverlap(4095, 1));
            assertEquals(1, ranges.size());
        }
        assertEquals(0, ranges.size());
    }

    @Test
    void exclusiveRegistrationsOfOverlappingRangesNeverHoldTogether() throws Exception {
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger maxHolders = new AtomicInteger();
        Thread[] threads = new Thread[32];
        for (int i = 0; i < threads.length; i++) {
            int id = i;
            // every range [id*10, id*10+1000) contains [310, 1000): all pairs overlap
            threads[i] = Thread.startVirtualThread(() -> {
                for (int round = 0; round < 200; round++) {
                    try (InFlightRanges.Ticket t = ranges.registerExclusive(id * 10L, 1000)) {
                        maxHolders.accumulateAndGet(holders.incrementAndGet(), Math::max);
                        Thread.yield();
                        holders.decrementAndGet();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                }
            });
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(1, maxHolders.get(), "two overlapping exclusive ranges were held at once");
        assertEquals(0, ranges.size());
    }

    @Test
    void aWaiterIsNotStarvedByRangesRegisteredAfterIt() throws Exception {
        InFlightRanges.Ticket first = ranges.register(0, 100);
        CompletableFuture<Void> waiter = CompletableFuture.runAsync(() -> {
            try {
                ranges.waitForOverlapping(0, 100);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }, Thread::startVirtualThread);
        await().atMost(Duration.ofSeconds(2)).during(Duration.ofMillis(50)).until(() -> !waiter.isDone());
        InFlightRanges.Ticket later = ranges.register(50, 100);
        first.close();
        await().atMost(Duration.ofSeconds(5)).until(waiter::isDone);
        later.close();
    }
}
