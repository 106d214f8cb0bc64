package org.fleeced.block.file;

import java.nio.file.Path;
import org.fleeced.block.BlockNode;
import org.fleeced.block.BlockNodeContractTest;

class RawFileNodeContractTest extends BlockNodeContractTest {
    @Override
    protected BlockNode createNode(Path dir, long sizeBytes) throws Exception {
        return RawFileNode.create(dir.resolve("disk.raw"), sizeBytes);
    }

    @Override
    protected BlockNode reopen(Path dir) throws Exception {
        return RawFileNode.open(dir.resolve("disk.raw"), false);
    }

    /** Not a multiple of any block size: the last partial block must behave like the rest. */
    @Override
    protected long nodeSize() {
        return (8L << 20) + 1234;
    }
}
