package org.fleeced.restore;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.fleeced.block.BlockNode;
import org.fleeced.block.BlockNodeContractTest;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;

/**
 * The node contract on a restore that has not started yet: every cluster is still in the source.
 * The source reads as zeroes, but its first half is allocated zero data (fetched as data) and its
 * second half a hole (restored as zeroes), so both fill paths run.
 *
 * <pre>
 *   check ──▶ CopyOnReadFilter ──▶ qcow2, 4 KiB clusters
 *                  └─ source: raw file (data | hole), state: disk.qcow2.fleeced-restore
 * </pre>
 */
class CopyOnReadFilterContractTest extends BlockNodeContractTest {
    private RawFileNode source;

    @Override
    protected BlockNode createNode(Path dir, long sizeBytes) throws Exception {
        Path image = dir.resolve("disk.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(sizeBytes).withClusterSize(4096));
        try (RawFileNode raw = RawFileNode.create(dir.resolve("backup.raw"), sizeBytes)) {
            raw.write(0, ByteBuffer.allocate((int) (sizeBytes / 2)), WriteFlag.NONE);
        }
        Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite());
        source = RawFileNode.open(dir.resolve("backup.raw"), true);
        RestoredClusters restored = RestoredClusters.create(image, sizeBytes, 4096, "raw:backup.raw");
        return new CopyOnReadFilter(node, new CopyOnRead(source, node, restored));
    }

    @Override
    protected BlockNode reopen(Path dir) throws Exception {
        source.close();
        Path image = dir.resolve("disk.qcow2");
        Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite());
        source = RawFileNode.open(dir.resolve("backup.raw"), true);
        return new CopyOnReadFilter(node, new CopyOnRead(source, node, RestoredClusters.load(image, node.size())));
    }

    @Override
    protected long nodeSize() {
        return (8L << 20) + 1234;
    }

    @org.junit.jupiter.api.AfterEach
    void closeSource() throws Exception {
        source.close();
    }
}
