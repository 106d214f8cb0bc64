package org.fleeced.block;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A list of byte ranges that requests are working on, with "wait for every overlapping one"
 * (QEMU's reqlist). Copy-before-write registers its frozen reads here, so that a guest write
 * waits for the snapshot reads it would otherwise overtake; drivers use
 * {@link #registerExclusive} to serialize overlapping allocating writes.
 *
 * <p>Waiting is cheap: callers are virtual threads. {@link #waitForOverlapping} waits only for
 * ranges registered before it was called, so a steady stream of new overlapping ranges cannot
 * starve it.
 *
 * <p>Thread-safe. All state is guarded by {@code lock}.
 */
public final class InFlightRanges {
    private final ReentrantLock lock = new ReentrantLock();
    /** Released whenever a range leaves {@code ranges}. Guarded by {@code lock}. */
    private final Condition released = lock.newCondition();
    /** The registered ranges, in no order. Guarded by {@code lock}. */
    private final List<Ticket> ranges = new ArrayList<>();

    /** Registers a range without waiting. Release it with {@link Ticket#close()}. */
    public Ticket register(long offset, long length) {
        lock.lock();
        try {
            return addLocked(offset, length);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Waits until no registered range overlaps, then registers this one, atomically: two
     * overlapping exclusive registrations never hold at the same time.
     */
    public Ticket registerExclusive(long offset, long length) throws InterruptedException {
        lock.lock();
        try {
            while (anyOverlapLocked(offset, length)) {
                released.await();
            }
            return addLocked(offset, length);
        } finally {
            lock.unlock();
        }
    }

    /** Waits until every range that overlaps and was registered before this call is released. */
    public void waitForOverlapping(long offset, long length) throws InterruptedException {
        lock.lock();
        try {
            List<Ticket> waitFor = new ArrayList<>();
            for (Ticket t : ranges) {
                if (t.overlaps(offset, length)) {
                    waitFor.add(t);
                }
            }
            for (Ticket t : waitFor) {
                while (!t.releasedLocked) {
                    released.await();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** True when some registered range overlaps {@code [offset, offset + length)}. */
    public boolean anyOverlap(long offset, long length) {
        lock.lock();
        try {
            return anyOverlapLocked(offset, length);
        } finally {
            lock.unlock();
        }
    }

    public int size() {
        lock.lock();
        try {
            return ranges.size();
        } finally {
            lock.unlock();
        }
    }

    private boolean anyOverlapLocked(long offset, long length) {
        for (Ticket t : ranges) {
            if (t.overlaps(offset, length)) {
                return true;
            }
        }
        return false;
    }

    private Ticket addLocked(long offset, long length) {
        Ticket t = new Ticket(offset, length);
        ranges.add(t);
        return t;
    }

    /** One registered range; closing it releases it (idempotent). */
    public final class Ticket implements AutoCloseable {
        private final long offset;
        private final long length;
        /** Guarded by the owning list's lock. */
        private boolean releasedLocked;

        private Ticket(long offset, long length) {
            if (offset < 0 || length < 0) {
                throw new IllegalArgumentException("bad range [" + offset + ", +" + length + ")");
            }
            this.offset = offset;
            this.length = length;
        }

        boolean overlaps(long otherOffset, long otherLength) {
            return offset < otherOffset + otherLength && otherOffset < offset + length;
        }

        public long offset() {
            return offset;
        }

        public long length() {
            return length;
        }

        @Override
        public void close() {
            lock.lock();
            try {
                if (!releasedLocked) {
                    releasedLocked = true;
                    ranges.remove(this);
                    released.signalAll();
                }
            } finally {
                lock.unlock();
            }
        }
    }
}
