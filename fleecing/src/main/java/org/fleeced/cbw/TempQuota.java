package org.fleeced.cbw;

import java.util.concurrent.atomic.AtomicLong;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * The temp-data budget of one fleecing job, shared by all its disks. A copy reserves its
 * cluster before it starts; the bytes stay charged while the temp image holds them and are given
 * back when the copy turns out to be unneeded (zero at the snapshot point), fails, or when the
 * reader discards them.
 *
 * <p>Lock-free: one atomic counter.
 */
public final class TempQuota {
    private final long limitBytes;
    /** Bytes reserved or held; never above {@code limitBytes} when a limit is set. */
    private final AtomicLong usedBytes = new AtomicLong();

    /** {@code limitBytes} 0 means no limit. */
    public TempQuota(long limitBytes) {
        if (limitBytes < 0) {
            throw new IllegalArgumentException("negative quota " + limitBytes);
        }
        this.limitBytes = limitBytes;
    }

    /** Charges {@code bytes}, or fails with ENOSPC changing nothing when they would not fit. */
    void reserve(long bytes) throws BlockIOException {
        while (true) {
            long used = usedBytes.get();
            if (limitBytes > 0 && used + bytes > limitBytes) {
                throw new BlockIOException(Errno.ENOSPC, "the temp quota of " + limitBytes + " bytes is full ("
                        + used + " bytes held, " + bytes + " more needed)");
            }
            if (usedBytes.compareAndSet(used, used + bytes)) {
                return;
            }
        }
    }

    void release(long bytes) {
        usedBytes.addAndGet(-bytes);
    }

    public long usedBytes() {
        return usedBytes.get();
    }

    public long limitBytes() {
        return limitBytes;
    }
}
