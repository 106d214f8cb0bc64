package org.fleeced.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** writeZeroes, discard, FAST_ZERO, preallocation, lazy refcounts and locking, checked on the file. */
@Timeout(60)
class Qcow2WriteBehaviourTest {
    @TempDir
    Path dir;

    private Path create(Qcow2CreateOptions options) throws Exception {
        Path image = dir.resolve("disk.qcow2");
        Qcow2Creator.create(image, options);
        return image;
    }

    private static long allocatedBytes(Path p) throws Exception {
        // File length and allocated 512-byte blocks, as stat(1) reports them.
        String blocks = QemuTools.ok("stat", "-c", "%b", p.toString()).trim();
        return Files.size(p) * 1_000_003 + Long.parseLong(blocks);
    }

    @Test
    void unalignedWriteZeroesOnAnEmptyImageAllocatesNothing() throws Exception {
        Path image = create(Qcow2CreateOptions.of(64L << 20));
        long before = allocatedBytes(image);
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            node.writeZeroes(32 << 10, 1 << 20, WriteFlag.NONE);
            node.writeZeroes(32 << 10, 1 << 20, Set.of(WriteFlag.MAY_UNMAP));
            node.writeZeroes(100_000, 3 << 20, Set.of(WriteFlag.FAST_ZERO));
            node.flush();
            assertEquals(List.of(new Extent(0, 64L << 20, false, true, 0)), node.blockStatus(0, 64L << 20));
        }
        assertEquals(before, allocatedBytes(image), "file size or blocks changed");
        QemuTools.assumeQemuImg();
        String map = QemuTools.ok("qemu-img", "map", "--output=json", image.toString());
        assertFalse(map.contains("\"data\": true"), map);
        QemuTools.assertCheckClean(image);
    }

    @Test
    void writeZeroesUsesTheZeroFlagAndFastZeroRefusesDataWrites() throws Exception {
        Path image = create(Qcow2CreateOptions.of(8L << 20));
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            node.write(0, ByteBuffer.wrap(Qcow2ImageFiles.pattern(256 << 10, 1)), WriteFlag.NONE);
            BlockIOException e = assertThrows(BlockIOException.class,
                    () -> node.writeZeroes(1000, 200 << 10, Set.of(WriteFlag.FAST_ZERO)));
            assertEquals(Errno.ENOTSUP, e.errno());
            byte[] check = new byte[256 << 10];
            node.read(0, ByteBuffer.wrap(check));
            assertArrayEquals(Qcow2ImageFiles.pattern(256 << 10, 1), check, "FAST_ZERO failure changed data");
            node.writeZeroes(64 << 10, 128 << 10, Set.of(WriteFlag.FAST_ZERO));
            assertEquals(new Extent(64 << 10, 128 << 10, true, true, 1), node.blockStatus(64 << 10, 128 << 10).getFirst(),
                    "zero flag keeps the preallocated cluster");
            node.writeZeroes(64 << 10, 128 << 10, Set.of(WriteFlag.MAY_UNMAP));
            assertEquals(new Extent(64 << 10, 128 << 10, false, true, 1), node.blockStatus(64 << 10, 128 << 10).getFirst());
            node.write(70 << 10, ByteBuffer.wrap(new byte[] {9}), WriteFlag.NONE);
            assertEquals(new Extent(64 << 10, 64 << 10, true, false, 1), node.blockStatus(64 << 10, 128 << 10).getFirst(),
                    "a zero cluster partly written is data");
        }
        QemuTools.assumeQemuImg();
        QemuTools.assertCheckClean(image);
    }

    @Test
    void discardedClustersAreReused() throws Exception {
        Path image = create(Qcow2CreateOptions.of(64L << 20));
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            node.write(0, ByteBuffer.wrap(Qcow2ImageFiles.pattern(8 << 20, 3)), WriteFlag.NONE);
            node.flush();
            long grown = Files.size(image);
            node.discard(1000, 8 << 20);
            byte[] head = new byte[1000];
            node.read(0, ByteBuffer.wrap(head));
            assertArrayEquals(java.util.Arrays.copyOf(Qcow2ImageFiles.pattern(8 << 20, 3), 1000), head,
                    "discard touched bytes outside its range");
            node.write(32L << 20, ByteBuffer.wrap(Qcow2ImageFiles.pattern(7 << 20, 4)), WriteFlag.NONE);
            node.flush();
            assertEquals(grown, Files.size(image), "freed clusters were not reused");
        }
        QemuTools.assumeQemuImg();
        QemuTools.assertCheckClean(image);
    }

    @Test
    void discardOverBackingSetsTheZeroFlag() throws Exception {
        Path base = dir.resolve("base.raw");
        Files.write(base, Qcow2ImageFiles.pattern(1 << 20, 5));
        Path image = create(Qcow2CreateOptions.of(2L << 20).withBacking("base.raw", "raw"));
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            node.write(0, ByteBuffer.wrap(new byte[128 << 10]), WriteFlag.NONE);
            node.discard(0, 128 << 10);
            assertEquals(new Extent(0, 128 << 10, false, true, 1), node.blockStatus(0, 1 << 20).getFirst());
            assertEquals(2, node.blockStatus(128 << 10, 1).getFirst().depth());
        }
        QemuTools.assumeQemuImg();
        QemuTools.assertCheckClean(image);
    }

    @Test
    void metadataPreallocationPassesCheck() throws Exception {
        Path image = create(Qcow2CreateOptions.of(20L << 20).withClusterSize(4096)
                .withPreallocation(Qcow2CreateOptions.Preallocation.METADATA));
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            assertTrue(node.blockStatus(0, 20L << 20).getFirst().allocated());
            node.write(5000, ByteBuffer.wrap(new byte[] {1, 2}), WriteFlag.NONE);
            byte[] b = new byte[4];
            node.read(4999, ByteBuffer.wrap(b));
            assertArrayEquals(new byte[] {0, 1, 2, 0}, b);
        }
        assertTrue(Files.size(image) >= 20L << 20);
        QemuTools.assumeQemuImg();
        QemuTools.assertCheckClean(image);
    }

    @Test
    void lazyRefcountsSetTheDirtyBitAndACrashCopyIsRepairedOnOpen() throws Exception {
        Path image = create(Qcow2CreateOptions.of(16L << 20).withClusterSize(4096).withLazyRefcounts(true));
        Path crashed = dir.resolve("crashed.qcow2");
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            node.write(12345, ByteBuffer.wrap(Qcow2ImageFiles.pattern(3 << 20, 6)), WriteFlag.NONE);
            node.flush();
            assertEquals(FeatureBits.INCOMPAT_DIRTY, Qcow2ImageFiles.readLong(image, 72) & FeatureBits.INCOMPAT_DIRTY);
            Files.copy(image, crashed);
        }
        assertEquals(0, Qcow2ImageFiles.readLong(image, 72), "clean close clears the dirty bit");
        try (Qcow2Node node = Qcow2Node.open(crashed, Qcow2OpenOptions.readWrite())) {
            byte[] b = new byte[3 << 20];
            node.read(12345, ByteBuffer.wrap(b));
            assertArrayEquals(Qcow2ImageFiles.pattern(3 << 20, 6), b);
        }
        assertEquals(0, Qcow2ImageFiles.readLong(crashed, 72));
        QemuTools.assumeQemuImg();
        QemuTools.assertCheckClean(image);
        QemuTools.assertCheckClean(crashed);
    }

    @Test
    void aSecondWriterIsRefusedWithAClearError() throws Exception {
        Path image = create(Qcow2CreateOptions.of(1L << 20));
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            BlockIOException e = assertThrows(BlockIOException.class, () -> Qcow2Node.open(image, Qcow2OpenOptions.readWrite()));
            assertEquals(Errno.EPERM, e.errno());
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
            try (Qcow2Node reader = Qcow2Node.open(image, Qcow2OpenOptions.readOnlyDefaults())) {
                assertEquals(node.size(), reader.size());
            }
        }
    }

    @Test
    void refcountTableGrowsWhenTheImageOutgrowsIt() throws Exception {
        // 512-byte clusters with 64-bit refcounts: one table cluster covers 64 * 64 clusters = 2 MiB of host.
        Path image = create(Qcow2CreateOptions.of(8L << 20).withClusterSize(512).withRefcountOrder(6));
        byte[] data = Qcow2ImageFiles.pattern(6 << 20, 7);
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite().withCacheBytes(4096, 4096))) {
            node.write(0, ByteBuffer.wrap(data), WriteFlag.NONE);
        }
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readOnlyDefaults())) {
            byte[] back = new byte[data.length];
            node.read(0, ByteBuffer.wrap(back));
            assertArrayEquals(data, back);
        }
        QemuTools.assumeQemuImg();
        QemuTools.assertCheckClean(image);
    }
}
