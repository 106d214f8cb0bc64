package org.fleeced.cbw;

import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.job.FleecingJob;
import org.fleeced.job.FleecingJobSpec;
import org.fleeced.job.TempSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.fleeced.block.BlockNode;
import org.fleeced.block.BlockNodeContractTest;
import org.fleeced.block.file.RawFileNode;

/**
 * The whole writable stack of a disk with a fleecing job running passes the node contract:
 *
 * <pre>
 *   check ──▶ SwappableNode ──▶ DirtyTrackingFilter ──▶ CopyBeforeWriteFilter ──▶ raw
 * </pre>
 */
class CbwFilterContractTest extends BlockNodeContractTest {
    @Override
    protected BlockNode createNode(Path dir, long sizeBytes) throws Exception {
        RawFileNode image = RawFileNode.create(dir.resolve("disk.raw"), sizeBytes);
        ActiveDisk disk = DiskOpener.over("vda", image, 4096, 64 << 10);
        Path temp = Files.createDirectory(dir.resolve("temp"));
        FleecingJob.start(FleecingJobSpec.builder(List.of(disk), TempSettings.raw(temp)).checkpoint("c1").build());
        return disk.exportNode();
    }

    @Override
    protected long nodeSize() {
        return (8L << 20) + 1234;
    }

    @Override
    protected int randomOperations() {
        return 600;
    }
}
