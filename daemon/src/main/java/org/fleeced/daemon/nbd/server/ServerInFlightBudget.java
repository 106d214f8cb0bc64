package org.fleeced.daemon.nbd.server;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Bounds the request data that all connections of one server hold at once
 * ({@code nbd.maxInFlightBytesTotal}), on top of each connection's {@link InFlightBudget}, so that
 * many clients together cannot fill the heap either. Two kinds of data are charged:
 *
 * <ul>
 *   <li>WRITE (and other) payload bytes, admitted on the connection's event loop as they arrive
 *       ({@link #admitPayload}). This never blocks: what cannot be admitted is refused, the
 *       connection stops reading its socket, and the wake-up it left runs once bytes are released.
 *       A header alone costs nothing, so a client that announces 32 MiB and sends one byte holds
 *       one byte.</li>
 *   <li>READ reply data, acquired on the request's virtual thread before the data is read
 *       ({@link #acquireRead}), which waits meanwhile.</li>
 * </ul>
 * Both are released ({@link #release}) when the request's last reply has left, or, for a payload
 * that never completed, when its connection closes.
 *
 * <p>Deadlock: payloads are admitted piecemeal, so the partial payloads of several connections
 * could fill the budget with none of them able to finish. The last {@code reserveBytes} (one
 * maximum payload) are therefore a reserve that one payload at a time may draw on, its "owner":
 * the owner needs at most one maximum payload to finish, so it always can, its request runs, and
 * the release wakes the others. Reads never draw on the reserve (they hold nothing while they
 * wait). A client that stalls while it owns the reserve keeps it until the request timeout drops
 * its connection.
 */
final class ServerInFlightBudget {
    private final long limitBytes;
    private final long reserveBytes;
    private final ReentrantLock lock = new ReentrantLock();
    /** Signalled on every release, for waiting reads. */
    private final Condition released = lock.newCondition();
    /** Guarded by {@link #lock}: bytes charged and not yet released. */
    private long usedBytes;
    /** Guarded by {@link #lock}: the connection whose payload draws on the reserve, or null. */
    private Object reserveOwner;
    /** Guarded by {@link #lock}: wake-ups of connections refused since the last release. */
    private final List<Runnable> refused = new ArrayList<>();

    ServerInFlightBudget(long limitBytes, long reserveBytes) {
        if (limitBytes < 2 * reserveBytes) {
            throw new IllegalArgumentException("the in-flight budget " + limitBytes
                    + " must hold at least two maximum payloads of " + reserveBytes + " bytes");
        }
        this.limitBytes = limitBytes;
        this.reserveBytes = reserveBytes;
    }

    /**
     * Admits up to {@code wanted} payload bytes for the payload {@code owner} is receiving (one at a
     * time per owner); when fewer are admitted, {@code wake} runs (on the releasing thread) after the
     * next release.
     */
    int admitPayload(Object owner, int wanted, Runnable wake) {
        lock.lock();
        try {
            boolean mayUseReserve = reserveOwner == null || reserveOwner == owner;
            long open = (mayUseReserve ? limitBytes : limitBytes - reserveBytes) - usedBytes;
            int admitted = (int) Math.max(0, Math.min(wanted, open));
            usedBytes += admitted;
            if (usedBytes > limitBytes - reserveBytes && mayUseReserve && admitted > 0) {
                reserveOwner = owner;
            }
            if (admitted < wanted) {
                refused.add(wake);
            }
            return admitted;
        } finally {
            lock.unlock();
        }
    }

    /** The payload {@code owner} was receiving is complete or abandoned; its bytes stay charged until released. */
    void payloadEnded(Object owner) {
        List<Runnable> wakes;
        lock.lock();
        try {
            if (reserveOwner != owner) {
                return;
            }
            reserveOwner = null;
            wakes = takeRefused();
        } finally {
            lock.unlock();
        }
        wakes.forEach(Runnable::run);
    }

    /** Waits until {@code bytes} of read data fit outside the reserve, then charges them. */
    void acquireRead(long bytes) {
        if (bytes == 0) {
            return;
        }
        lock.lock();
        try {
            while (usedBytes + bytes > limitBytes - reserveBytes) {
                released.awaitUninterruptibly();
            }
            usedBytes += bytes;
        } finally {
            lock.unlock();
        }
    }

    void release(long bytes) {
        if (bytes == 0) {
            return;
        }
        List<Runnable> wakes;
        lock.lock();
        try {
            usedBytes -= bytes;
            released.signalAll();
            wakes = takeRefused();
        } finally {
            lock.unlock();
        }
        wakes.forEach(Runnable::run);
    }

    long usedBytes() {
        lock.lock();
        try {
            return usedBytes;
        } finally {
            lock.unlock();
        }
    }

    private List<Runnable> takeRefused() {
        if (refused.isEmpty()) {
            return List.of();
        }
        List<Runnable> wakes = List.copyOf(refused);
        refused.clear();
        return wakes;
    }
}
