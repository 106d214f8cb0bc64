package org.fleeced.throttle;

import java.nio.file.Path;
import org.fleeced.block.BlockNode;
import org.fleeced.block.BlockNodeContractTest;
import org.fleeced.block.file.RawFileNode;

/** The latency-recording filter keeps the block-node contract. */
class WriteLatencyFilterContractTest extends BlockNodeContractTest {
    @Override
    protected BlockNode createNode(Path dir, long sizeBytes) throws Exception {
        return new WriteLatencyFilter(RawFileNode.create(dir.resolve("disk.raw"), sizeBytes), new LatencyWindow(1_000_000_000L));
    }
}
