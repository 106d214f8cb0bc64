package org.fleeced.restore;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.fleeced.bitmaps.ByteRange;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.BlockNodeContractTest;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.block.testing.ControllableNode;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.disk.KillCopy;
import org.fleeced.disk.DiskSpec;
import org.fleeced.qcow2.ImageOpener;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A whole disk restored through {@link DiskOpener}: from a two-image qcow2 backup chain into a new
 * qcow2 image, with the stream running to completion, stopped and resumed, and a source that fails.
 *
 * <pre>
 *   exportNode ──▶ DirtyTrackingFilter ──▶ CopyOnReadFilter ──▶ disk.qcow2 (no backing)
 *                                               └─ source: full.qcow2 ◀── incr.qcow2
 * </pre>
 */
class InstantRestoreTest {
    private static final long SIZE = 4L << 20;

    @TempDir
    Path dir;
    private Path image;
    private Path incr;
    private byte[] expected;

    @BeforeEach
    void makeBackupChain() throws Exception {
        Path full = dir.resolve("full.qcow2");
        incr = dir.resolve("incr.qcow2");
        image = dir.resolve("disk.qcow2");
        Qcow2Creator.create(full, Qcow2CreateOptions.of(SIZE));
        expected = new byte[(int) SIZE];
        try (Qcow2Node n = Qcow2Node.open(full, Qcow2OpenOptions.readWrite())) {
            byte[] data = BlockNodeContractTest.pattern(1 << 20, 3);
            n.write(0, ByteBuffer.wrap(data), WriteFlag.NONE);
            System.arraycopy(data, 0, expected, 0, data.length);
        }
        Qcow2Creator.create(incr, Qcow2CreateOptions.of(SIZE).withBacking(full.toString(), "qcow2"));
        try (Qcow2Node n = Qcow2Node.open(incr, Qcow2OpenOptions.readWrite())) {
            byte[] data = BlockNodeContractTest.pattern(300_000, 9);
            n.write(700_000, ByteBuffer.wrap(data), WriteFlag.NONE);
            System.arraycopy(data, 0, expected, 700_000, data.length);
            data = BlockNodeContractTest.pattern(65536, 11);
            n.write(3L << 20, ByteBuffer.wrap(data), WriteFlag.NONE);
            System.arraycopy(data, 0, expected, 3 << 20, data.length);
        }
        Qcow2Creator.create(image, Qcow2CreateOptions.of(SIZE));
    }

    @Test
    void theDiskIsUsableAtOnceAndStandsAloneWhenTheStreamCompletes() throws Exception {
        try (ActiveDisk disk = DiskOpener.open(spec(new RestorePlan(chain(), 0)))) {
            BlockNode node = disk.exportNode();
            byte[] guest = BlockNodeContractTest.pattern(1000, 77);
            node.write(800_123, ByteBuffer.wrap(guest), WriteFlag.NONE);
            System.arraycopy(guest, 0, expected, 800_123, guest.length);
            assertArrayEquals(expected, read(node, 0, (int) SIZE));
            await().until(() -> disk.restoreProgress().orElseThrow().state() == RestoreProgress.State.COMPLETE);
            assertFalse(disk.restoring());
            assertFalse(disk.describe().contains(InstantRestore.FILTER_NAME), disk.describe());
            assertEquals(SIZE, disk.restoreProgress().orElseThrow().doneBytes());
            assertArrayEquals(expected, read(node, 0, (int) SIZE));
        }
        assertFalse(Files.exists(RestoredClusters.sidecarFor(image)));
        try (Qcow2Node alone = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            assertArrayEquals(expected, read(alone, 0, (int) SIZE));
            for (Extent e : alone.blockStatus(0, SIZE)) {
                assertTrue(e.depth() <= 1, e.toString());
            }
        }
    }

    @Test
    void aStoppedRestoreNeedsItsSourceAndResumesWhereItStopped() throws Exception {
        long restoredBefore;
        try (ActiveDisk disk = DiskOpener.open(spec(new RestorePlan(chain(), 64 << 10)))) {
            read(disk.exportNode(), 3L << 20, 4096);
            await().until(() -> disk.restoreProgress().orElseThrow().doneBytes() >= 256 << 10);
        }
        assertTrue(Files.exists(RestoredClusters.sidecarFor(image)));
        restoredBefore = RestoredClusters.load(image, SIZE).restoredBytes();
        assertTrue(RestoredClusters.load(image, SIZE).isRestored(3L << 20), "the guest's read was forgotten");
        BlockIOException refused = assertThrows(BlockIOException.class, () -> DiskOpener.open(spec(null)));
        assertEquals(Errno.EIO, refused.errno());
        assertTrue(refused.getMessage().contains("chain:" + incr), refused.getMessage());
        try (ActiveDisk disk = DiskOpener.open(spec(new RestorePlan(chain(), 0)))) {
            assertTrue(disk.restoreProgress().orElseThrow().doneBytes() >= restoredBefore);
            await().until(() -> !disk.restoring());
            assertArrayEquals(expected, read(disk.exportNode(), 0, (int) SIZE));
        }
        assertFalse(Files.exists(RestoredClusters.sidecarFor(image)));
    }

    @Test
    void whatTheGuestReadIsNeverFetchedAgainAfterACrash() throws Exception {
        try (Qcow2Node n = Qcow2Node.open(incr, Qcow2OpenOptions.readWrite())) {
            byte[] data = BlockNodeContractTest.pattern(300_000, 13);
            n.write(2L << 20, ByteBuffer.wrap(data), WriteFlag.NONE);
            System.arraycopy(data, 0, expected, 2 << 20, data.length);
        }
        List<ByteRange> guestReads = List.of(new ByteRange(3L << 20, 4096), new ByteRange(700_000, 200_000),
                new ByteRange((2L << 20) + 12_345, 1000));
        Path crashed;
        try (ActiveDisk disk = DiskOpener.open(spec(new RestorePlan(chain(), 1024)))) {
            for (ByteRange r : guestReads) {
                assertArrayEquals(slice((int) r.offset(), (int) r.length()),
                        read(disk.exportNode(), r.offset(), (int) r.length()));
            }
            crashed = KillCopy.of(image, dir.resolve("crash"));
        }
        try (ActiveDisk disk = DiskOpener.open(DiskSpec.of("vda", crashed, ImageOpener.Format.QCOW2)
                .withRestore(new RestorePlan(failing(), 0)))) {
            await().until(() -> !disk.restoring());
            assertArrayEquals(expected, read(disk.exportNode(), 0, (int) SIZE));
        }
        List<ByteRange> fetched = opened.stream().flatMap(n -> n.reads().stream()).toList();
        assertFalse(fetched.isEmpty(), "the resumed stream fetched nothing (the rest of the data at 2 MiB)");
        for (ByteRange r : guestReads) {
            Alignment.Range clusters = Alignment.outward(r.offset(), r.length(), 65536);
            for (ByteRange f : fetched) {
                assertTrue(f.end() <= clusters.offset() || f.offset() >= clusters.end(),
                        "the guest's read " + r + " was fetched again after the crash: " + f);
            }
        }
    }

    @Test
    void aSourceWhoseSizeIsNotWholeSectorsRestoresWithAZeroTail() throws Exception {
        long odd = 1_000_001;
        byte[] data = BlockNodeContractTest.pattern((int) odd, 5);
        Path raw = dir.resolve("odd.raw");
        try (RawFileNode n = RawFileNode.create(raw, odd)) {
            n.write(0, ByteBuffer.wrap(data), WriteFlag.NONE);
        }
        long size = InstantRestore.imageSizeFor(odd);
        assertEquals(1_000_448, size);
        Path oddImage = dir.resolve("odd.qcow2");
        Qcow2Creator.create(oddImage, Qcow2CreateOptions.of(size));
        RestoreSource source = RestoreSource.of("raw:" + raw, () -> RawFileNode.open(raw, true));
        byte[] expectedOdd = java.util.Arrays.copyOf(data, (int) size);
        try (ActiveDisk disk = DiskOpener.open(DiskSpec.of("odd", oddImage, ImageOpener.Format.QCOW2)
                .withRestore(new RestorePlan(source, 1024)))) {
            assertArrayEquals(java.util.Arrays.copyOfRange(expectedOdd, 999_000, (int) size),
                    read(disk.exportNode(), 999_000, (int) size - 999_000));
            assertTrue(disk.exportNode().blockStatus(1_000_001 & ~511L, 512).getFirst().data());
            disk.setRestoreLimits(RestoreLimits.DEFAULT);
            await().until(() -> !disk.restoring());
            assertArrayEquals(expectedOdd, read(disk.exportNode(), 0, (int) size));
        }
    }

    @Test
    void aFailingSourceFailsOnlyUnrestoredReads() throws Exception {
        try (ActiveDisk disk = DiskOpener.open(spec(new RestorePlan(failing(), 1024)))) {
            BlockNode node = disk.exportNode();
            // the stream's first piece, then it waits out its rate limit for long
            await().until(() -> disk.restoreProgress().orElseThrow().doneBytes() >= 1 << 20);
            failSourceReads(true);
            BlockIOException e = assertThrows(BlockIOException.class, () -> read(node, 3L << 20, 4096));
            assertEquals(Errno.EIO, e.errno());
            assertTrue(e.getMessage().contains("restore source"), e.getMessage());
            assertArrayEquals(slice(0, 65536), read(node, 0, 65536));
            failSourceReads(false);
            assertArrayEquals(slice(3 << 20, 4096), read(node, 3L << 20, 4096));
        }
    }

    @Test
    void theStreamReportsSourceFailuresRetriesAndCompletesWhenTheSourceIsBack() throws Exception {
        failSourceReads(true);
        try (ActiveDisk disk = DiskOpener.open(spec(new RestorePlan(failing(), 0)))) {
            await().until(() -> disk.restoreProgress().orElseThrow().retries() >= 2);
            assertTrue(disk.restoreProgress().orElseThrow().lastError().contains("EIO"));
            assertTrue(disk.restoring());
            failSourceReads(false);
            await().until(() -> !disk.restoring());
            assertArrayEquals(expected, read(disk.exportNode(), 0, (int) SIZE));
        }
    }

    private final AtomicBoolean failReads = new AtomicBoolean();
    private final List<ControllableNode> opened = new CopyOnWriteArrayList<>();

    /** The chain, through nodes whose reads fail while {@link #failReads} is set (reopened ones too). */
    private RestoreSource failing() {
        return RestoreSource.of("failing", () -> {
            ControllableNode node = new ControllableNode(chain().open());
            opened.add(node);
            node.fail(ControllableNode.Op.READ, failReads.get() ? Errno.EIO : null);
            return node;
        });
    }

    private void failSourceReads(boolean fail) {
        failReads.set(fail);
        for (ControllableNode node : opened) {
            node.fail(ControllableNode.Op.READ, fail ? Errno.EIO : null);
        }
    }

    private DiskSpec spec(RestorePlan plan) {
        return DiskSpec.of("vda", image, ImageOpener.Format.QCOW2).withRestore(plan);
    }

    private RestoreSource chain() {
        return new RestoreSource() {
            @Override
            public String describe() {
                return "chain:" + incr;
            }

            @Override
            public BlockNode open() throws BlockIOException {
                return Qcow2Node.open(incr, Qcow2OpenOptions.readOnlyDefaults());
            }
        };
    }

    private byte[] slice(int offset, int length) {
        byte[] out = new byte[length];
        System.arraycopy(expected, offset, out, 0, length);
        return out;
    }

    private static byte[] read(BlockNode node, long offset, int length) throws BlockIOException {
        byte[] out = new byte[length];
        int max = node.capabilities().maxRequestBytes();
        for (int done = 0; done < length; done += max) {
            node.read(offset + done, ByteBuffer.wrap(out, done, Math.min(max, length - done)));
        }
        return out;
    }
}
