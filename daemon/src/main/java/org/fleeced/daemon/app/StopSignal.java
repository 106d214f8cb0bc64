package org.fleeced.daemon.app;

import java.util.concurrent.CountDownLatch;
import sun.misc.Signal;

/**
 * Turns SIGTERM and SIGINT into an orderly stop: the main thread waits here, then closes exports
 * and images itself and exits 0. A plain shutdown hook could not do that: the JVM exits with 143
 * after a SIGTERM, and hooks run in no defined order with logging already torn down.
 */
public final class StopSignal {
    private final CountDownLatch stop = new CountDownLatch(1);
    private volatile String reason = "stop requested";

    /** A stop that only {@link #request} triggers (no signal handler). */
    StopSignal() {
    }

    /** A stop that SIGTERM and SIGINT trigger, from now on. */
    public static StopSignal install() {
        StopSignal s = new StopSignal();
        for (String name : new String[] {"TERM", "INT"}) {
            Signal.handle(new Signal(name), sig -> s.request("SIG" + sig.getName()));
        }
        return s;
    }

    public void request(String why) {
        if (stop.getCount() > 0) {
            reason = why;
            stop.countDown();
        }
    }

    /** Blocks until a signal (or {@link #request}) arrives; returns what asked for the stop. */
    public String await() throws InterruptedException {
        stop.await();
        return reason;
    }
}
