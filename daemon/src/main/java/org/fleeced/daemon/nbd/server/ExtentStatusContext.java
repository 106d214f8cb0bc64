package org.fleeced.daemon.nbd.server;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Extent;
import org.fleeced.daemon.nbd.protocol.ReplyEncoder.StatusRun;

/**
 * A metadata context read from the node's block status, one status value per extent. Two exist:
 *
 * <ul>
 *   <li>{@code base:allocation} (NBD proto "base:allocation metadata context"): bit 0 HOLE where no
 *       storage backs the range, bit 1 ZERO where it is guaranteed to read as zeroes;</li>
 *   <li>{@code qemu:allocation-depth} (QEMU docs/interop/nbd.rst): the whole 32-bit status is the
 *       depth of the layer that provides the range: 0 unallocated, 1 the exported image, 2 its first
 *       backing file, and so on.</li>
 * </ul>
 */
public final class ExtentStatusContext implements MetaContextSource {
    public static final String BASE_ALLOCATION = "base:allocation";
    public static final String ALLOCATION_DEPTH = "qemu:allocation-depth";
    public static final int STATE_HOLE = 1;
    public static final int STATE_ZERO = 2;

    private final String name;
    private final BlockNode node;
    private final ToIntFunction<Extent> status;

    private ExtentStatusContext(String name, BlockNode node, ToIntFunction<Extent> status) {
        this.name = name;
        this.node = node;
        this.status = status;
    }

    public static ExtentStatusContext baseAllocation(BlockNode node) {
        return new ExtentStatusContext(BASE_ALLOCATION, node,
                extent -> (extent.data() ? 0 : STATE_HOLE) | (extent.zero() ? STATE_ZERO : 0));
    }

    public static ExtentStatusContext allocationDepth(BlockNode node) {
        return new ExtentStatusContext(ALLOCATION_DEPTH, node, Extent::depth);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<StatusRun> status(long offset, long length) throws BlockIOException {
        List<Extent> extents = node.blockStatus(offset, length);
        List<StatusRun> runs = new ArrayList<>(extents.size());
        for (Extent extent : extents) {
            runs.add(new StatusRun(extent.length(), status.applyAsInt(extent)));
        }
        return runs;
    }
}
