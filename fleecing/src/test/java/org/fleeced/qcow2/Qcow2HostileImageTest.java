package org.fleeced.qcow2;

import static org.fleeced.qcow2.Qcow2ImageFiles.patchInt;
import static org.fleeced.qcow2.Qcow2ImageFiles.patchLong;
import static org.fleeced.qcow2.Qcow2ImageFiles.readLong;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.WriteFlag;
import org.fleeced.qcow2.bitmap.BitmapDisk;
import org.fleeced.qcow2.bitmap.PersistentBitmaps;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Damaged and hostile images: each gives a clear BlockIOException, never a hang, an
 * out-of-memory error or a write outside the image's metadata.
 */
@Timeout(20)
class Qcow2HostileImageTest {
    @TempDir
    Path dir;
    Path image;

    /** A 64 KiB-cluster image with data in its first cluster: L1 at 3 * 64 KiB by the creator's layout. */
    @BeforeEach
    void createImage() throws Exception {
        image = dir.resolve("disk.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(16L << 20));
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            node.write(0, ByteBuffer.wrap(Qcow2ImageFiles.pattern(4096, 1)), WriteFlag.NONE);
        }
    }

    private BlockIOException openFails() {
        return assertThrows(BlockIOException.class, () -> Qcow2Node.open(image, Qcow2OpenOptions.readWrite()).close());
    }

    @ParameterizedTest(name = "truncated to {0} bytes")
    @ValueSource(longs = {0, 3, 50, 100, 65536, 65536 * 2 + 8})
    void truncatedFilesAreRefused(long length) throws Exception {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.truncate(length);
        }
        BlockIOException e = assertThrows(BlockIOException.class, () -> {
            try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
                node.read(0, ByteBuffer.allocate(4096));
                node.write(1 << 20, ByteBuffer.allocate(4096), WriteFlag.NONE);
            }
        });
        // the open refuses an image cut inside its metadata (EUCLEAN); one cut in its data fails the read (EIO)
        assertTrue(e.errno() == Errno.EUCLEAN || e.errno() == Errno.EIO, e.toString());
    }

    @Test
    void hugeL1SizeIsRefused() throws Exception {
        patchInt(image, 36, 0x7fffffff);
        assertTrue(openFails().getMessage().contains("L1"));
    }

    @Test
    void hugeRefcountTableIsRefused() throws Exception {
        patchInt(image, 56, 0x7fffffff);
        assertTrue(openFails().getMessage().contains("refcount table"));
    }

    @Test
    void hugeVirtualSizeIsRefused() throws Exception {
        patchLong(image, 24, 1L << 62);
        assertEquals(Errno.EUCLEAN, openFails().errno());
    }

    @ParameterizedTest(name = "cluster_bits {0}")
    @ValueSource(ints = {0, 8, 22, 31, -1})
    void clusterBitsOutOfRangeAreRefused(int bits) throws Exception {
        patchInt(image, 20, bits);
        assertTrue(openFails().getMessage().contains("cluster_bits"));
    }

    @Test
    void tablesPastTheEndOfTheFileAreRefused() throws Exception {
        patchLong(image, 48, 1L << 40);
        assertTrue(openFails().getMessage().contains("past the end"));
        patchLong(image, 48, 65536);
        patchLong(image, 40, 1L << 40);
        assertTrue(openFails().getMessage().contains("past the end"));
    }

    @Test
    void l1EntryPastTheEndGivesEioAndMarksTheImageCorrupt() throws Exception {
        long l1 = readLong(image, 40);
        patchLong(image, l1, (1L << 40) | L2Entry.COPIED);
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            BlockIOException e = assertThrows(BlockIOException.class, () -> node.read(0, ByteBuffer.allocate(512)));
            assertEquals(Errno.EIO, e.errno());
            BlockIOException w = assertThrows(BlockIOException.class,
                    () -> node.write(8 << 20, ByteBuffer.allocate(512), WriteFlag.NONE));
            assertTrue(w.getMessage().contains("corrupt"), w.getMessage());
        }
        assertNotEquals(0, readLong(image, 72) & FeatureBits.INCOMPAT_CORRUPT, "corrupt bit set on disk");
        BlockIOException again = openFails();
        assertTrue(again.getMessage().contains("corrupt bit"), again.getMessage());
        try (Qcow2Node ro = Qcow2Node.open(image, Qcow2OpenOptions.readOnlyDefaults())) {
            assertEquals(16L << 20, ro.size());
        }
    }

    @Test
    void l1EntryPointingAtTheL1TableItselfIsDamage() throws Exception {
        long l1 = readLong(image, 40);
        patchLong(image, l1, l1 | L2Entry.COPIED);
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            assertEquals(Errno.EIO, assertThrows(BlockIOException.class,
                    () -> node.write(0, ByteBuffer.allocate(512), WriteFlag.NONE)).errno());
        }
    }

    @Test
    void l2EntryPointingAtTheHeaderIsNeverWrittenInPlace() throws Exception {
        long l1 = readLong(image, 40);
        long l2 = readLong(image, l1) & L2Entry.OFFSET_MASK;
        long headerCluster = 0;
        patchLong(image, l2, headerCluster | L2Entry.COPIED | 512); // reserved bit 9? no: offset 512 is unaligned
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            assertEquals(Errno.EIO, assertThrows(BlockIOException.class,
                    () -> node.write(0, ByteBuffer.allocate(512), WriteFlag.NONE)).errno());
        }
        byte[] magic = Qcow2ImageFiles.readFile(image, 0, 4);
        assertEquals(Qcow2Header.MAGIC, ByteBuffer.wrap(magic).getInt(), "header intact");
    }

    @Test
    void refcountBlockAtTheHeaderIsDamage() throws Exception {
        long reftable = readLong(image, 48);
        patchLong(image, reftable, 0);
        patchLong(image, reftable, 0L);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).putLong(0, 0L), reftable);
        }
        // Slot 0 now has no block: allocation must make one, not clobber the header.
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            assertThrows(BlockIOException.class, () -> node.write(1 << 20, ByteBuffer.allocate(4096), WriteFlag.NONE));
        }
        assertEquals(Qcow2Header.MAGIC, ByteBuffer.wrap(Qcow2ImageFiles.readFile(image, 0, 4)).getInt(), "header intact");
    }

    @Test
    void backingFileLoopsAreRefused() throws Exception {
        Path a = dir.resolve("a.qcow2");
        Path b = dir.resolve("b.qcow2");
        Qcow2Creator.create(a, Qcow2CreateOptions.of(1 << 20).withBacking("b.qcow2", "qcow2"));
        Qcow2Creator.create(b, Qcow2CreateOptions.of(1 << 20).withBacking("a.qcow2", "qcow2"));
        BlockIOException e = assertThrows(BlockIOException.class, () -> ImageOpener.open(a, true));
        assertTrue(e.getMessage().contains("loops"), e.getMessage());
    }

    @Test
    void unknownIncompatibleFeaturesAreNamed() throws Exception {
        patchLong(image, 72, 1L << 10);
        BlockIOException e = openFails();
        assertEquals(Errno.ENOTSUP, e.errno());
        assertTrue(e.getMessage().contains("bit 10"), e.getMessage());
        patchLong(image, 72, FeatureBits.INCOMPAT_EXTENDED_L2);
        assertTrue(openFails().getMessage().contains("extended L2"));
    }

    @Test
    void garbageCompressedClusterGivesEio() throws Exception {
        long l1 = readLong(image, 40);
        long l2 = readLong(image, l1) & L2Entry.OFFSET_MASK;
        Qcow2Layout layout = new Qcow2Layout(16, 4);
        long descriptor = L2Entry.COMPRESSED_FLAG | (3L << layout.compressedSectorShift()) | 0; // points at the header
        patchLong(image, l2, descriptor);
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readOnlyDefaults())) {
            assertEquals(Errno.EIO, assertThrows(BlockIOException.class, () -> node.read(0, ByteBuffer.allocate(512))).errno());
        }
    }

    @Test
    void unknownExtensionsSurviveAndUnknownAutoclearBitsAreCleared() throws Exception {
        // Insert an unknown extension at the start of the extension area (after the 112-byte header).
        byte[] first = Qcow2ImageFiles.readFile(image, 0, 65536);
        ByteBuffer h = ByteBuffer.wrap(first);
        Qcow2Header parsed = Qcow2Header.parse(h, 1L << 30);
        java.util.List<HeaderExtension> exts = new java.util.ArrayList<>(parsed.extensions());
        HeaderExtension unknown = new HeaderExtension(0x12345678, "keep me".getBytes(StandardCharsets.UTF_8));
        exts.add(0, unknown);
        Qcow2Header patched = parsed.withExtensions(exts).withFeatures(parsed.features().withAutoclear(1L << 5));
        Qcow2ImageFiles.patch(image, 0, patched.encode());
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            node.write(0, ByteBuffer.allocate(512), WriteFlag.NONE);
        }
        Qcow2Header after = Qcow2Header.parse(ByteBuffer.wrap(Qcow2ImageFiles.readFile(image, 0, 65536)), 1L << 30);
        assertEquals(unknown, after.extension(0x12345678));
        assertEquals(0, after.features().autoclear());
        QemuTools.assumeQemuImg();
        QemuTools.assertCheckClean(image);
    }

    // ---- regressions found by the fuzzer (Qcow2FuzzTest) ----------------------------------------

    @Test
    void aBackingNameThatCannotBeAPathMakesTheImageInvalid() throws Exception {
        Qcow2ImageFiles.patch(image, 4096, ByteBuffer.wrap("a\0b".getBytes(StandardCharsets.UTF_8)));
        patchLong(image, 8, 4096);
        patchInt(image, 16, 3);
        BlockIOException e = openFails();
        assertEquals(Errno.EUCLEAN, e.errno());
        assertTrue(e.getMessage().contains("backing file"), e.getMessage());
    }

    /** DamagedImageAttachIT seed 777875: header_length as large as the cluster was a 507 at attach. */
    @Test
    void aHeaderLengthThatLeavesNoRoomForTheExtensionsEndMarkerMakesTheImageInvalid() throws Exception {
        patchInt(image, 100, 65536);
        BlockIOException e = openFails();
        assertEquals(Errno.EUCLEAN, e.errno());
        assertTrue(e.getMessage().contains("end marker"), e.getMessage());
    }

    /** DamagedImageAttachIT seed 777459: a backing file name cut to one byte was a 500 at attach. */
    @Test
    void aBackingFileThatDoesNotExistMakesTheImageInvalid() throws Exception {
        Path overlay = dir.resolve("overlay.qcow2");
        Qcow2Creator.create(overlay, Qcow2CreateOptions.of(16L << 20).withBacking("gone.qcow2", "qcow2"));
        BlockIOException e = assertThrows(BlockIOException.class,
                () -> Qcow2Node.open(overlay, Qcow2OpenOptions.readWrite()).close());
        assertEquals(Errno.EUCLEAN, e.errno());
        assertTrue(e.getMessage().contains("gone.qcow2 of " + overlay + " does not exist"), e.getMessage());
    }

    @Test
    void aFullFirstClusterMakesRoomForTheBitmapsByDroppingTheFeatureNameTable() throws Exception {
        Path small = dir.resolve("small.qcow2");
        Qcow2Creator.create(small, Qcow2CreateOptions.of(1 << 20).withClusterSize(512));
        assertNotNull(header(small).extension(HeaderExtension.FEATURE_NAME_TABLE), "the creator filled the cluster");
        try (BitmapDisk disk = BitmapDisk.open(small, false)) {
            disk.bitmaps().add("b", 65536, true, true);
            disk.node().write(0, ByteBuffer.allocate(512), WriteFlag.NONE);
        }
        Qcow2Header after = header(small);
        assertNull(after.extension(HeaderExtension.FEATURE_NAME_TABLE));
        assertNotNull(after.extension(HeaderExtension.BITMAPS));
        QemuTools.assumeQemuImg();
        QemuTools.assertCheckClean(small);
    }

    @Test
    void aBitmapTooLargeToStoreIsRefusedAtAdd() throws Exception {
        Path huge = dir.resolve("huge.qcow2");
        Qcow2Creator.create(huge, Qcow2CreateOptions.of(1L << 56).withClusterSize(1 << 20));
        try (BitmapDisk disk = BitmapDisk.open(huge, false)) {
            PersistentBitmaps bitmaps = disk.bitmaps();
            BlockIOException e = assertThrows(BlockIOException.class, () -> bitmaps.add("b", 512, true, true));
            assertEquals(Errno.EINVAL, e.errno());
            bitmaps.add("coarse", 1L << 30, true, true);
        }
    }

    @Test
    void aDirectoryAsBackingFileIsRefusedAtOpen() throws Exception {
        Path overlay = dir.resolve("overlay.qcow2");
        Qcow2Creator.create(overlay, Qcow2CreateOptions.of(1 << 20).withBacking(".", "raw"));
        BlockIOException e = assertThrows(BlockIOException.class, () -> ImageOpener.open(overlay, true).close());
        assertEquals(Errno.EUCLEAN, e.errno());
        assertTrue(e.getMessage().contains("directory"), e.getMessage());
    }

    /**
     * A truncated file whose refcounts still count, and whose L2 table still maps, clusters past
     * its end: a new cluster goes past them, so the guest clusters mapped there do not start
     * reading someone else's data (they read zeros, as QEMU reads a short file).
     */
    @Test
    void aTruncatedImageNeverHandsOutAClusterItsRefcountsStillCount() throws Exception {
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            for (int c = 1; c < 4; c++) {
                node.write(c * 65536L, ByteBuffer.wrap(Qcow2ImageFiles.pattern(65536, c + 1)), WriteFlag.NONE);
            }
        }
        long l2Offset = readLong(image, readLong(image, 40)) & L2Entry.OFFSET_MASK;
        long cluster2 = readLong(image, l2Offset + 16) & L2Entry.OFFSET_MASK;
        assertEquals(Files.size(image), cluster2 + 2 * 65536, "guest clusters 2 and 3 end the file");
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.WRITE)) {
            ch.truncate(cluster2);
        }
        byte[] fresh = Qcow2ImageFiles.pattern(65536, 99);
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            node.write(8L << 20, ByteBuffer.wrap(fresh), WriteFlag.NONE);
            for (int c = 2; c < 4; c++) {
                ByteBuffer lost = ByteBuffer.allocate(65536);
                node.read(c * 65536L, lost);
                assertArrayEquals(new byte[65536], lost.array(), "guest cluster " + c + " reads zeros");
            }
            ByteBuffer back = ByteBuffer.allocate(65536);
            node.read(8L << 20, back);
            assertArrayEquals(fresh, back.array());
        }
        assertTrue((readLong(image, l2Offset + 8 * 128) & L2Entry.OFFSET_MASK) >= cluster2 + 2 * 65536,
                "the new cluster lies past the two the refcounts still count");
    }

    /**
     * A refcount block that counts thousands of clusters past the end of the file is garbage, not
     * a crash's leak: writes that need a cluster are refused as damage instead of growing the
     * file by gigabytes; reads go on.
     */
    @Test
    void refcountsCountingFarPastTheFileRefuseAllocationNotReads() throws Exception {
        long block = readLong(image, readLong(image, 48)) & L2Entry.OFFSET_MASK;
        byte[] full = new byte[65536];
        Arrays.fill(full, (byte) 0xff);
        Qcow2ImageFiles.patch(image, block, ByteBuffer.wrap(full));
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            ByteBuffer first = ByteBuffer.allocate(4096);
            node.read(0, first);
            assertArrayEquals(Qcow2ImageFiles.pattern(4096, 1), first.array());
            BlockIOException e = assertThrows(BlockIOException.class,
                    () -> node.write(8L << 20, ByteBuffer.allocate(4096), WriteFlag.NONE));
            assertEquals(Errno.EIO, e.errno());
            assertTrue(e.getMessage().contains("far past the end of the file"), e.getMessage());
        }
        assertTrue(Files.size(image) < 1L << 20, "the file did not grow");
    }

    private static Qcow2Header header(Path path) throws Exception {
        return Qcow2Header.parse(ByteBuffer.wrap(Qcow2ImageFiles.readFile(path, 0, 65536)), 1L << 30);
    }
}
