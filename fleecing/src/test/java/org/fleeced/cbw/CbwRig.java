package org.fleeced.cbw;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.fleeced.bitmaps.BitmapView;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.ContractCheckingNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.block.testing.ControllableNode;
import org.fleeced.job.TempFormat;
import org.fleeced.job.TempImage;
import org.fleeced.job.TempSettings;

/**
 * One disk's copy-before-write assembled by hand, so that tests can put
 * {@link ControllableNode}s around the source and the temp image:
 *
 * <pre>
 *   guest ──▶ check ──▶ CopyBeforeWriteFilter ──▶ controllable ──▶ raw source
 *                              │
 *                              ▼
 *                        controllable ──▶ temp image ◀── FleeceSnapshot ◀── check ◀── reader
 * </pre>
 * The temp image is made by {@link TempImage#create}, raw unless a test asks for qcow2.
 */
final class CbwRig implements AutoCloseable {
    final RawFileNode sourceFile;
    final TempImage tempImage;
    final ControllableNode source;
    final ControllableNode temp;
    final CbwState state;
    final TempQuota quota;
    /** The guest's view: the filter, contract-checked. */
    final BlockNode guest;
    /** The reader's view: the snapshot access node, contract-checked. */
    final BlockNode reader;

    private CbwRig(Path dir, long size, long cluster, CbwSettings settings, long quotaBytes, BitmapView readable,
            byte[] initial, TempFormat tempFormat) throws BlockIOException {
        sourceFile = RawFileNode.create(dir.resolve("source.raw"), size);
        if (initial != null) {
            sourceFile.write(0, ByteBuffer.wrap(initial), WriteFlag.NONE);
        }
        tempImage = TempImage.create(new TempSettings(tempFormat, dir, 0, 0), "temp", size, cluster);
        source = new ControllableNode(sourceFile);
        temp = new ControllableNode(tempImage.node());
        quota = new TempQuota(quotaBytes);
        state = new CbwState(source, temp, cluster, quota, readable);
        guest = new ContractCheckingNode(new CopyBeforeWriteFilter(state, settings));
        reader = new ContractCheckingNode(new SnapshotAccessNode(new FleeceSnapshot(state),
                sourceFile.capabilities(), true, "rig"));
    }

    static CbwRig create(Path dir, byte[] initial, long cluster, OnCbwError policy) throws BlockIOException {
        return create(dir, initial, new CbwSettings(cluster, policy, 0), 0, null);
    }

    static CbwRig create(Path dir, byte[] initial, CbwSettings settings, long quotaBytes, BitmapView readable)
            throws BlockIOException {
        return create(dir, initial, settings, quotaBytes, readable, TempFormat.RAW);
    }

    static CbwRig create(Path dir, byte[] initial, CbwSettings settings, long quotaBytes, BitmapView readable,
            TempFormat tempFormat) throws BlockIOException {
        return new CbwRig(dir, initial.length, settings.clusterBytes(), settings, quotaBytes, readable, initial,
                tempFormat);
    }

    byte[] read(long offset, int length) throws BlockIOException {
        byte[] out = new byte[length];
        reader.read(offset, ByteBuffer.wrap(out));
        return out;
    }

    byte[] readDisk(long offset, int length) throws BlockIOException {
        byte[] out = new byte[length];
        sourceFile.read(offset, ByteBuffer.wrap(out));
        return out;
    }

    void write(long offset, byte[] data) throws BlockIOException {
        guest.write(offset, ByteBuffer.wrap(data), WriteFlag.NONE);
    }

    @Override
    public void close() throws BlockIOException {
        guest.close();
        tempImage.close();
    }
}
