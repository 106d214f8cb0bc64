package org.fleeced.daemon.nbd.server;

import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Extent;
import org.fleeced.daemon.nbd.protocol.ReplyEncoder.StatusRun;

/**
 * {@code base:allocation} (NBD proto "base:allocation metadata context"): bit 0 HOLE where no storage
 * backs the range, bit 1 ZERO where it is guaranteed to read as zeroes; from the node's block status.
 */
public final class BaseAllocationContext implements MetaContextSource {
    public static final String NAME = "base:allocation";
    public static final int STATE_HOLE = 1;
    public static final int STATE_ZERO = 2;

    private final BlockNode node;

    public BaseAllocationContext(BlockNode node) {
        this.node = node;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public List<StatusRun> status(long offset, long length) throws BlockIOException {
        List<Extent> extents = node.blockStatus(offset, length);
        List<StatusRun> runs = new ArrayList<>(extents.size());
        for (Extent extent : extents) {
            runs.add(new StatusRun(extent.length(), (extent.data() ? 0 : STATE_HOLE) | (extent.zero() ? STATE_ZERO : 0)));
        }
        return runs;
    }
}
