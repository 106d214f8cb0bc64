package org.fleeced.qcow2;

import java.nio.file.Path;
import org.fleeced.block.BlockNode;
import org.fleeced.block.BlockNodeContractTest;

/** The block node contract on a fresh qcow2 image with 4 KiB clusters and an unaligned size. */
class Qcow2NodeContractTest extends BlockNodeContractTest {
    @Override
    protected BlockNode createNode(Path dir, long sizeBytes) throws Exception {
        Path image = dir.resolve("disk.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(sizeBytes).withClusterSize(4096));
        return Qcow2Node.open(image, Qcow2OpenOptions.readWrite());
    }

    @Override
    protected BlockNode reopen(Path dir) throws Exception {
        return Qcow2Node.open(dir.resolve("disk.qcow2"), Qcow2OpenOptions.readWrite());
    }

    /** Not cluster aligned: the last, short cluster must behave like the rest. */
    @Override
    protected long nodeSize() {
        return (8L << 20) + 1234;
    }
}
