package org.fleeced.daemon.host;

import java.util.concurrent.TimeUnit;

import org.fleeced.block.BlockNode;
import org.fleeced.throttle.LatencyWindow;
import org.fleeced.throttle.Throttle;
import org.fleeced.throttle.ThrottleFilter;
import org.fleeced.throttle.ThrottleLimits;
import org.fleeced.throttle.WriteLatencyFilter;

/**
 * What the daemon puts between a disk's writable export and its stack (issue 15 part 3): the
 * operator's QEMU-style guest limits ({@code ioLimits}, none by default) and the record of the
 * guest's write latencies that adaptive backup reading watches.
 *
 * <pre>
 *   NBD export ──▶ ThrottleFilter(ioLimits) ──▶ WriteLatencyFilter ──▶ ActiveDisk.exportNode()
 * </pre>
 * The latency is measured below the guest's own limit, so an operator's limit never reads as
 * pressure from a backup. The filters are not closed: the disk owns what is below them.
 */
public final class GuestIo {
    /** The sliding window of the p99 that adaptive reading watches. */
    static final long WINDOW_NANOS = TimeUnit.SECONDS.toNanos(2);

    private final Throttle throttle = new Throttle(ThrottleLimits.UNLIMITED);
    private final LatencyWindow writes = new LatencyWindow(WINDOW_NANOS);
    private final BlockNode exportNode;
    /** The limits asked for ({@code ioLimits}). */
    private volatile ReadLimits limits = ReadLimits.NONE;

    GuestIo(BlockNode diskExport) {
        this.exportNode = new ThrottleFilter(new WriteLatencyFilter(diskExport, writes), throttle);
    }

    /** The node the writable export serves. */
    public BlockNode exportNode() {
        return exportNode;
    }

    public Throttle throttle() {
        return throttle;
    }

    public ReadLimits limits() {
        return limits;
    }

    /** Applies the guest's limits at once, also to requests waiting now. */
    public void setLimits(ReadLimits newLimits) {
        limits = newLimits;
        throttle.setLimits(newLimits.throttleLimits());
    }

    public LatencyWindow writeLatencies() {
        return writes;
    }
}
