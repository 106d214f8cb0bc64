package org.fleeced.cbw;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.ContractCheckingNode;
import org.fleeced.block.Errno;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.job.TempFormat;
import org.fleeced.job.TempImage;
import org.fleeced.job.TempSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole view of an incremental snapshot (issue 15's checksum with scope full): the reader may
 * read only the changes, the daemon reads everything the job kept.
 *
 * <pre>
 *   clusters:   0        1        2        3
 *   readable:   yes      no       no       yes     (the changes since the base)
 *   guest:               writes   -        writes  (after the snapshot point)
 * </pre>
 */
class WholeSnapshotViewTest {
    private static final int CLUSTER = 65536;

    @TempDir
    Path dir;

    private record Rig(RawFileNode source, TempImage temp, CbwState state, BlockNode guest, FleeceSnapshot snapshot)
            implements AutoCloseable {
        @Override
        public void close() throws BlockIOException {
            guest.close();
            temp.close();
        }
    }

    private Rig rig(boolean keepWhole) throws BlockIOException {
        RawFileNode source = RawFileNode.create(dir.resolve("source.raw"), 4L * CLUSTER);
        byte[] old = new byte[4 * CLUSTER];
        Arrays.fill(old, (byte) 0x11);
        source.write(0, ByteBuffer.wrap(old), WriteFlag.NONE);
        DirtyBitmap changes = new DirtyBitmap(4L * CLUSTER, CLUSTER);
        changes.set(0, CLUSTER);
        changes.set(3L * CLUSTER, CLUSTER);
        TempImage temp = TempImage.create(new TempSettings(TempFormat.RAW, dir, 0, 0), "temp", 4L * CLUSTER, CLUSTER);
        CbwState state = new CbwState(source, temp.node(), CLUSTER, new TempQuota(0), changes, keepWhole);
        BlockNode guest = new ContractCheckingNode(new CopyBeforeWriteFilter(state,
                new CbwSettings(CLUSTER, OnCbwError.BREAK_SNAPSHOT, 0)));
        return new Rig(source, temp, state, guest, new FleeceSnapshot(state));
    }

    private static byte[] fill(int value) {
        byte[] b = new byte[CLUSTER];
        Arrays.fill(b, (byte) value);
        return b;
    }

    @Test
    void keptWholeTheDaemonReadsTheOldDataEverywhereAndTheReaderOnlyTheChanges() throws Exception {
        try (Rig rig = rig(true)) {
            rig.guest.write(CLUSTER, ByteBuffer.wrap(fill(0x22)), WriteFlag.NONE);
            rig.guest.write(3L * CLUSTER, ByteBuffer.wrap(fill(0x33)), WriteFlag.NONE);
            BlockNode whole = new ContractCheckingNode(new SnapshotAccessNode(rig.snapshot.wholeView(),
                    rig.source.capabilities(), false, "whole"));
            byte[] all = new byte[4 * CLUSTER];
            whole.read(0, ByteBuffer.wrap(all));
            byte[] expected = new byte[4 * CLUSTER];
            Arrays.fill(expected, (byte) 0x11);
            assertArrayEquals(expected, all);
            BlockIOException outside = assertThrows(BlockIOException.class,
                    () -> rig.snapshot.read(CLUSTER, ByteBuffer.allocate(CLUSTER)));
            assertEquals(Errno.EACCES, outside.errno());
            assertEquals(0, rig.state.stats().bytesRead(), "the daemon's reads are not the reader's");
        }
    }

    @Test
    void notKeptTheUnreadablePartIsNotCopiedAndTheWholeViewRefusesIt() throws Exception {
        try (Rig rig = rig(false)) {
            rig.guest.write(CLUSTER, ByteBuffer.wrap(fill(0x22)), WriteFlag.NONE);
            assertEquals(0, rig.state.stats().clustersCopied());
            BlockIOException e = assertThrows(BlockIOException.class,
                    () -> rig.snapshot.wholeView().read(CLUSTER, ByteBuffer.allocate(CLUSTER)));
            assertEquals(Errno.EACCES, e.errno());
        }
    }

    @Test
    void aDiscardedRangeLeavesTheWholeViewToo() throws Exception {
        try (Rig rig = rig(true)) {
            rig.snapshot.discard(0, CLUSTER);
            BlockIOException e = assertThrows(BlockIOException.class,
                    () -> rig.snapshot.wholeView().read(0, ByteBuffer.allocate(CLUSTER)));
            assertEquals(Errno.EACCES, e.errno());
        }
    }
}
