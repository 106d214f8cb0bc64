package org.fleeced.block.file;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Which writes of one file the completed syncs made durable, for a writer that wants its writes
 * durable without a sync of its own: it rides on the syncs others issue anyway (a guest's flush
 * of the image). Syncs are numbered as they start; a writer takes a {@link #ticket()} once its
 * writes have returned, and any sync numbered above the ticket started after them, so its
 * completion makes them durable ({@link #covers}). Syncs may overlap; a failed one counts for
 * nothing.
 *
 * <p>Thread-safe. Actions given to {@link #whenCovered} run on the thread whose sync completed
 * (a guest's flush): they must only hand the work to another thread.
 */
public final class SyncProgress {
    private record Waiter(long ticket, Runnable action) {
    }

    private final ReentrantLock lock = new ReentrantLock();
    /** Syncs started so far: the number of the newest. Guarded by lock. */
    private long started;
    /** The highest number of a sync that completed. Guarded by lock. */
    private long covered;
    /** Actions waiting for a sync above their ticket. Guarded by lock. */
    private final List<Waiter> waiters = new ArrayList<>();

    /** A ticket for the writes that returned before this call: a later completed sync covers them. */
    public long ticket() {
        lock.lock();
        try {
            return started;
        } finally {
            lock.unlock();
        }
    }

    /** Whether a sync that started after {@code ticket} was taken has completed. */
    public boolean covers(long ticket) {
        lock.lock();
        try {
            return covered > ticket;
        } finally {
            lock.unlock();
        }
    }

    /** Runs {@code action} once a sync covers {@code ticket}: now, when one did already. */
    public void whenCovered(long ticket, Runnable action) {
        lock.lock();
        try {
            if (covered <= ticket) {
                waiters.add(new Waiter(ticket, action));
                return;
            }
        } finally {
            lock.unlock();
        }
        action.run();
    }

    /** A sync starts: returns its number for {@link #completed}. */
    long starting() {
        lock.lock();
        try {
            return ++started;
        } finally {
            lock.unlock();
        }
    }

    /** The sync numbered {@code number} completed: what was written before it started is durable. */
    void completed(long number) {
        List<Runnable> ready = new ArrayList<>();
        lock.lock();
        try {
            covered = Math.max(covered, number);
            for (Iterator<Waiter> it = waiters.iterator(); it.hasNext(); ) {
                Waiter w = it.next();
                if (covered > w.ticket()) {
                    ready.add(w.action());
                    it.remove();
                }
            }
        } finally {
            lock.unlock();
        }
        ready.forEach(Runnable::run);
    }
}
