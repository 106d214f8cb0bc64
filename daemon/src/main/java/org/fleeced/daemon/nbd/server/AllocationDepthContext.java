package org.fleeced.daemon.nbd.server;

import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Extent;
import org.fleeced.daemon.nbd.protocol.ReplyEncoder.StatusRun;

/**
 * {@code qemu:allocation-depth} (QEMU docs/interop/nbd.rst): the whole 32-bit status is the depth
 * of the layer that provides the range: 0 unallocated, 1 the exported image, 2 its first backing
 * file, and so on.
 */
public final class AllocationDepthContext implements MetaContextSource {
    public static final String NAME = "qemu:allocation-depth";

    private final BlockNode node;

    public AllocationDepthContext(BlockNode node) {
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
            runs.add(new StatusRun(extent.length(), extent.depth()));
        }
        return runs;
    }
}
