package org.fleeced.daemon.nbd.server;

import java.util.concurrent.locks.ReentrantLock;

/**
 * Bounds the bytes one connection holds for requests not yet answered, so that a client that sends
 * faster than the node serves meets back-pressure instead of filling the heap. A request is charged
 * when its header and payload have arrived (its payload, or the data its read reply will carry, and
 * a fixed cost so that empty requests count too) and released when its last reply message has left.
 * At the limit the socket is paused; it resumes at half the limit, so it does not flap.
 *
 * <p>One request may go over the limit: the payload of a request is read before it is charged. The
 * bound is therefore the limit plus one maximum payload. {@code pause} runs on the thread that
 * acquires (the connection's event loop, while it dispatches a request), so nothing more is decoded
 * after it; {@code resume} runs on the thread that releases.
 */
final class InFlightBudget {
    /** Charged on top of the data of each request: headers, bookkeeping, a virtual thread. */
    static final long REQUEST_OVERHEAD_BYTES = 1024;

    private final long limitBytes;
    private final Runnable pause;
    private final Runnable resume;
    private final ReentrantLock lock = new ReentrantLock();
    /** Guarded by {@link #lock}. */
    private long usedBytes;
    /** Guarded by {@link #lock}: the socket is paused because of this budget. */
    private boolean paused;

    InFlightBudget(long limitBytes, Runnable pause, Runnable resume) {
        this.limitBytes = limitBytes;
        this.pause = pause;
        this.resume = resume;
    }

    void acquire(long bytes) {
        lock.lock();
        try {
            usedBytes += bytes;
            if (!paused && usedBytes >= limitBytes) {
                paused = true;
                pause.run();
            }
        } finally {
            lock.unlock();
        }
    }

    void release(long bytes) {
        lock.lock();
        try {
            usedBytes -= bytes;
            if (paused && usedBytes <= limitBytes / 2) {
                paused = false;
                resume.run();
            }
        } finally {
            lock.unlock();
        }
    }

    long usedBytes() {
        lock.lock();
        try {
            return usedBytes;
        } finally {
            lock.unlock();
        }
    }
}
