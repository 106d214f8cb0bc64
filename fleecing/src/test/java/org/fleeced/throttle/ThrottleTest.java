package org.fleeced.throttle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.fleeced.block.BlockNode;
import org.fleeced.block.ContractCheckingNode;
import org.fleeced.block.file.RawFileNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A throttle is checked from below only: reading N bytes at a rate R with a burst B cannot take
 * less than (N - B - one request) / R. No test bounds how long anything may take.
 */
class ThrottleTest {
    private static final int REQUEST = 64 << 10;

    @TempDir
    Path dir;

    private static long readAll(BlockNode node, long bytes, int threads) throws Exception {
        List<Thread> readers = new ArrayList<>();
        List<Exception> failures = new ArrayList<>();
        long started = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            int first = t;
            readers.add(Thread.ofVirtual().start(() -> {
                try {
                    for (long off = (long) first * REQUEST; off < bytes; off += (long) threads * REQUEST) {
                        node.read(off, ByteBuffer.allocate(REQUEST));
                    }
                } catch (Exception e) {
                    synchronized (failures) {
                        failures.add(e);
                    }
                }
            }));
        }
        for (Thread r : readers) {
            r.join();
        }
        assertEquals(List.of(), failures);
        return System.nanoTime() - started;
    }

    @Test
    void readsCannotOutrunTheByteRate() throws Exception {
        long rate = 16L << 20;
        long burst = 1L << 20;
        long total = 8L << 20;
        try (BlockNode node = new ContractCheckingNode(new ThrottleFilter(
                RawFileNode.create(dir.resolve("d.raw"), total), new Throttle(new ThrottleLimits(rate, 0, burst, 0))))) {
            long nanos = readAll(node, total, 4);
            double floor = (double) (total - burst - REQUEST) / rate;
            assertTrue(nanos / 1e9 >= floor, "8 MiB at 16 MiB/s took " + nanos / 1e9 + " s, less than " + floor);
        }
    }

    @Test
    void requestsCannotOutrunTheOperationRate() throws Exception {
        long ops = 200;
        try (BlockNode node = new ThrottleFilter(RawFileNode.create(dir.resolve("d.raw"), 100L * REQUEST),
                new Throttle(new ThrottleLimits(0, ops, 0, 10)))) {
            long nanos = readAll(node, 100L * REQUEST, 3);
            double floor = (100.0 - 10 - 1) / ops;
            assertTrue(nanos / 1e9 >= floor, "100 requests at 200/s took " + nanos / 1e9 + " s, less than " + floor);
        }
    }

    @Test
    void liftingTheLimitReleasesAWaitingRequest() throws Exception {
        Throttle throttle = new Throttle(new ThrottleLimits(1024, 0, 1024, 0));
        throttle.admit(64L << 20);
        CountDownLatch passed = new CountDownLatch(1);
        Thread waiter = Thread.ofVirtual().start(() -> {
            try {
                throttle.admit(4096);
                passed.countDown();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        // the debt of 64 MiB at 1 KiB/s is 18 hours: only the new limits can let it through
        throttle.setLimits(ThrottleLimits.UNLIMITED);
        passed.await();
        waiter.join();
        assertEquals((64L << 20) + 4096, throttle.admittedBytes());
    }
}
