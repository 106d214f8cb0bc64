package org.fleeced.throttle;

import java.nio.file.Path;
import org.fleeced.block.BlockNode;
import org.fleeced.block.BlockNodeContractTest;
import org.fleeced.block.file.RawFileNode;

/** The throttle filter keeps the block-node contract, with limits that the contract's requests hit. */
class ThrottleFilterContractTest extends BlockNodeContractTest {
    @Override
    protected BlockNode createNode(Path dir, long sizeBytes) throws Exception {
        return new ThrottleFilter(RawFileNode.create(dir.resolve("disk.raw"), sizeBytes),
                new Throttle(new ThrottleLimits(1L << 30, 200_000, 64L << 20, 20_000)));
    }

    @Override
    protected BlockNode reopen(Path dir) throws Exception {
        return new ThrottleFilter(RawFileNode.open(dir.resolve("disk.raw"), false),
                new Throttle(ThrottleLimits.UNLIMITED));
    }
}
