package org.fleeced.block.testing;

import java.nio.ByteBuffer;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.fleeced.bitmaps.ByteRange;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;

/**
 * A real filter for tests that pauses, fails and counts calls on demand (nbdkit's delay and
 * error filters in one): {@link #pauseNext} holds the next call of an operation until the test
 * opens its gate, {@link #fail} makes an operation fail with an errno until cleared.
 */
public final class ControllableNode extends FilterNode {
    /** The operations a test can pause, fail and count. */
    public enum Op { READ, WRITE, ZERO, DISCARD, STATUS, FLUSH }

    /** A paused call: the test waits for it to arrive, then lets it go. */
    public static final class Gate {
        private final CountDownLatch arrived = new CountDownLatch(1);
        private final CountDownLatch open = new CountDownLatch(1);

        public void awaitArrived() throws InterruptedException {
            if (!arrived.await(60, TimeUnit.SECONDS)) {
                throw new AssertionError("the paused call never came");
            }
        }

        public boolean hasArrived() {
            return arrived.getCount() == 0;
        }

        public void open() {
            open.countDown();
        }

        private void pass() {
            arrived.countDown();
            try {
                open.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private final Map<Op, Gate> pauses = new EnumMap<>(Op.class);
    private final Map<Op, Errno> failures = new EnumMap<>(Op.class);
    private final Map<Op, AtomicInteger> calls = new EnumMap<>(Op.class);
    /** Fail every n-th call of an operation (0: never). */
    private final Map<Op, Integer> failEvery = new EnumMap<>(Op.class);

    public ControllableNode(BlockNode child) {
        super(child);
        for (Op op : Op.values()) {
            calls.put(op, new AtomicInteger());
        }
    }

    public synchronized Gate pauseNext(Op op) {
        Gate gate = new Gate();
        pauses.put(op, gate);
        return gate;
    }

    public synchronized void fail(Op op, Errno errno) {
        if (errno == null) {
            failures.remove(op);
        } else {
            failures.put(op, errno);
        }
    }

    /** Makes every {@code n}-th call of {@code op} fail with {@code errno}, deterministically. */
    public synchronized void failEvery(Op op, Errno errno, int n) {
        failEvery.put(op, n);
        failures.remove(op);
        periodicErrno = errno;
    }

    private Errno periodicErrno;

    public int calls(Op op) {
        return calls.get(op).get();
    }

    /** Every read that reached the node below, in order. */
    public List<ByteRange> reads() {
        return List.copyOf(reads);
    }

    private final List<ByteRange> reads = new CopyOnWriteArrayList<>();

    private void enter(Op op, long offset) throws BlockIOException {
        int call = calls.get(op).incrementAndGet();
        Gate gate;
        Errno errno;
        synchronized (this) {
            gate = pauses.remove(op);
            errno = failures.get(op);
            Integer every = failEvery.get(op);
            if (errno == null && every != null && every > 0 && call % every == 0) {
                errno = periodicErrno;
            }
        }
        if (gate != null) {
            gate.pass();
        }
        if (errno != null) {
            throw new BlockIOException(errno, "injected " + errno + " on " + op + " at " + offset);
        }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        enter(Op.READ, offset);
        reads.add(new ByteRange(offset, dst.remaining()));
        child.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        enter(Op.WRITE, offset);
        child.write(offset, src, flags);
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        enter(Op.ZERO, offset);
        child.writeZeroes(offset, length, flags);
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        enter(Op.DISCARD, offset);
        child.discard(offset, length);
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        enter(Op.STATUS, offset);
        return child.blockStatus(offset, length);
    }

    @Override
    public void flush() throws BlockIOException {
        enter(Op.FLUSH, 0);
        child.flush();
    }

    @Override
    public String describe() {
        return "controllable(" + child.describe() + ")";
    }
}
