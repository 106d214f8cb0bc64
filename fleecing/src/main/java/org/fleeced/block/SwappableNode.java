package org.fleeced.block;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The node a disk's writable export uses, whose inner stack can be replaced on a live disk: how
 * a fleecing job inserts and removes its copy-before-write filter (what QEMU needs the unmerged
 * {@code blockdev-replace} for).
 *
 * <h2>Mechanism: a drain gate</h2>
 * Every request enters the gate (counted in {@code inFlight}), runs on the current stack, and
 * leaves. {@link #drain()} closes the gate: new requests wait at it, requests in flight finish;
 * once none is left the caller holds a {@link Drain} in which no request runs, replaces the
 * stack, and closes the drain to let the waiting requests through, in the new stack. So no
 * request is lost, none runs on both stacks, and a request that returned before the drain is in
 * the old stack's past: the switch is one exact point in time. Several disks drained together
 * share that point.
 *
 * <p>The swap does not flush: ordering is all a snapshot needs, and flushing inside the drain is
 * what stalls guests for half a second in qemu-storage-daemon 7.2.
 *
 * <p>Lock: {@code lock} guards {@code current}, {@code inFlight} and {@code draining}. Only one
 * drain at a time ({@code drains}, a semaphore, so another thread may end it).
 */
public final class SwappableNode implements BlockNode {
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled when the gate opens and when {@code inFlight} drops to zero while draining. */
    private final Condition changed = lock.newCondition();
    private final Semaphore drains = new Semaphore(1);
    private final long sizeBytes;
    private final Capabilities capabilities;
    /** The stack requests run on. Guarded by {@code lock}. */
    private BlockNode current;
    /** Requests between enter and leave. Guarded by {@code lock}. */
    private int inFlight;
    /** True while a drain holds the gate closed. Guarded by {@code lock}. */
    private boolean draining;

    public SwappableNode(BlockNode initial) {
        this.current = Objects.requireNonNull(initial);
        this.sizeBytes = initial.size();
        this.capabilities = initial.capabilities();
    }

    /**
     * Closes the gate and waits until no request is in flight. The caller must close the drain,
     * which reopens the gate; requests wait until then.
     */
    public Drain drain() throws BlockIOException {
        try {
            drains.acquire();
            lock.lock();
            try {
                draining = true;
                while (inFlight > 0) {
                    changed.await();
                }
            } finally {
                lock.unlock();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            reopen();
            throw new BlockIOException(Errno.EIO, "interrupted while draining " + describe(), e);
        }
        return new Drain();
    }

    /** A closed gate: no request runs until {@link #close()}. */
    public final class Drain implements AutoCloseable {
        private boolean closed;

        private Drain() {
        }

        /** The stack requests run on now. */
        public BlockNode current() {
            lock.lock();
            try {
                return current;
            } finally {
                lock.unlock();
            }
        }

        /**
         * Makes {@code next} the stack for every request from now on and returns the previous one,
         * unclosed (its child nodes usually live on in {@code next}). Same size and capabilities.
         */
        public BlockNode replace(BlockNode next) {
            if (closed) {
                throw new IllegalStateException("drain already ended");
            }
            if (next.size() != sizeBytes || !next.capabilities().equals(capabilities)) {
                throw new IllegalArgumentException(next.describe() + " differs in size or capabilities from "
                        + describe());
            }
            lock.lock();
            try {
                BlockNode previous = current;
                current = next;
                return previous;
            } finally {
                lock.unlock();
            }
        }

        /** Reopens the gate. */
        @Override
        public void close() {
            if (!closed) {
                closed = true;
                reopen();
            }
        }
    }

    private void reopen() {
        lock.lock();
        try {
            draining = false;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        drains.release();
    }

    private BlockNode enter() throws BlockIOException {
        lock.lock();
        try {
            while (draining) {
                changed.awaitUninterruptibly();
            }
            inFlight++;
            return current;
        } finally {
            lock.unlock();
        }
    }

    private void leave() {
        lock.lock();
        try {
            if (--inFlight == 0 && draining) {
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long size() {
        return sizeBytes;
    }

    @Override
    public Capabilities capabilities() {
        return capabilities;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        run(node -> node.read(offset, dst));
    }

    /**
     * The current node's span. Taking it is a request in flight; sending it is not: a swap (a job's
     * start, a restore's end) must not wait for a client that is slow to read its replies, and none
     * closes the file under the stack it replaces, so the span stays good. A span still being sent
     * shows the file as it is then, as a read that ran concurrently with the writes after the swap.
     */
    @Override
    public FileSpan fileSpan(long offset, int length) throws BlockIOException {
        return through(node -> node.fileSpan(offset, length));
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        run(node -> node.write(offset, src, flags));
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        run(node -> node.writeZeroes(offset, length, flags));
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        run(node -> node.discard(offset, length));
    }

    @Override
    public void flush() throws BlockIOException {
        run(BlockNode::flush);
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        return through(node -> node.blockStatus(offset, length));
    }

    /** One request on the current stack, between enter and leave: the gate's only path. */
    private <T> T through(Request<T> request) throws BlockIOException {
        BlockNode node = enter();
        try {
            return request.on(node);
        } finally {
            leave();
        }
    }

    private void run(Command command) throws BlockIOException {
        through(node -> {
            command.on(node);
            return null;
        });
    }

    /** A request that answers (block status). */
    @FunctionalInterface
    private interface Request<T> {
        T on(BlockNode node) throws BlockIOException;
    }

    /** A request that only succeeds or fails (read into the caller's buffer, the changes, flush). */
    @FunctionalInterface
    private interface Command {
        void on(BlockNode node) throws BlockIOException;
    }

    @Override
    public String describe() {
        return "swappable(" + currentForLog().describe() + ")";
    }

    private BlockNode currentForLog() {
        lock.lock();
        try {
            return current;
        } finally {
            lock.unlock();
        }
    }

    /** Closes the current stack. */
    @Override
    public void close() throws BlockIOException {
        currentForLog().close();
    }
}
