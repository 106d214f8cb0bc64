package org.fleeced.cbw;

import org.fleeced.job.FleecingJob;
import org.fleeced.job.FleecingJobSpec;
import org.fleeced.job.TempFormat;
import org.fleeced.job.TempImage;
import org.fleeced.job.TempSettings;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.checkpoint.BackupOutcome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * qcow2 temp images: a reader discard unmaps the temp's clusters and gives the quota back, later
 * copies reuse the freed host clusters, and the temp file is gone when the job ends or fails to
 * start.
 *
 * <pre>
 *   guest ──▶ CopyBeforeWriteFilter ──▶ raw source
 *                     │
 *                     ▼
 *              qcow2 temp (64 KiB clusters) ◀── FleeceSnapshot ◀── reader (reads, discards)
 * </pre>
 */
class Qcow2TempImageTest {
    static final int C = 64 << 10;
    /** 16 CBW clusters and a short last one. */
    static final int SIZE = 16 * C + 1000;
    static final int TAIL = SIZE - 16 * C;

    @TempDir
    Path dir;

    /**
     * A disk larger than the temp directory's file system lets a file be (ext4: 16 TiB) still
     * gets its job: the raw temp the settings ask for is refused with EFBIG, so the temp is a
     * qcow2 image of the disk's size, which grows only with what is copied, and it is deleted
     * at the end like any temp.
     */
    @Test
    void aRawTempTooLargeForTheFileSystemBecomesQcow2() throws Exception {
        long size = 64L << 40;
        Path probe = dir.resolve("probe");
        try (java.io.RandomAccessFile file = new java.io.RandomAccessFile(probe.toFile(), "rw")) {
            file.setLength(size);
            assumeTrue(false, "this file system holds a 64 TiB file, so a raw temp never falls back here");
        } catch (IOException refused) {
            // the case under test: the file system's limit is below the disk's size
        } finally {
            Files.deleteIfExists(probe);
        }
        TempImage temp = TempImage.create(TempSettings.raw(dir), "job-vm", size, C);
        try {
            assertTrue(temp.path().getFileName().toString().endsWith(TempFormat.QCOW2.fileExtension()), temp.path().toString());
            assertEquals(size, temp.node().size());
            ByteBuffer data = ByteBuffer.wrap("old data".getBytes(StandardCharsets.UTF_8));
            temp.node().write(size - C, data, WriteFlag.NONE);
            ByteBuffer back = ByteBuffer.allocate(8);
            temp.node().read(size - C, back);
            assertEquals("old data", new String(back.array(), StandardCharsets.UTF_8));
            assertTrue(Files.size(temp.path()) < 64L << 20, "the qcow2 temp holds what was copied, not the disk's size");
            assertEquals(List.of(temp.path().getFileName().toString()),
                    Files.list(dir).map(p -> p.getFileName().toString()).toList(), "no raw file is left beside it");
        } finally {
            temp.close();
        }
        assertEquals(0, Files.list(dir).count(), "the temp is deleted at the end");
    }

    @Test
    void theQcow2ClusterDividesTheCbwCluster() {
        assertEquals(64 << 10, TempImage.qcow2ClusterBytes(64 << 10));
        assertEquals(64 << 10, TempImage.qcow2ClusterBytes(4 << 20));
        assertEquals(4096, TempImage.qcow2ClusterBytes(4096));
        assertThrows(IllegalArgumentException.class, () -> TempImage.qcow2ClusterBytes(2048));
        assertThrows(IllegalArgumentException.class, () -> TempImage.qcow2ClusterBytes(96 << 10));
    }

    @Test
    void aReaderDiscardUnmapsTempClustersAndGivesTheQuotaBack() throws Exception {
        byte[] old = pattern(SIZE, 7);
        try (CbwRig rig = CbwRig.create(dir, old, new CbwSettings(C, OnCbwError.BREAK_SNAPSHOT, 0), 0, null,
                TempFormat.QCOW2)) {
            Path tempPath = rig.tempImage.path();
            assertTrue(tempPath.getFileName().toString().endsWith(".qcow2"), tempPath.toString());
            rig.write(C + 100, new byte[4 * C - 200]);
            rig.write(16 * C + 10, new byte[20]);
            assertTrue(allocated(rig, C, 4 * C), "the copies landed in the temp image");
            assertEquals(4L * C + TAIL, rig.quota.usedBytes());

            rig.reader.discard(C - 5, 2 * C + 10);
            assertTrue(unallocated(rig, C, 2 * C), "the discarded clusters are unmapped");
            assertTrue(allocated(rig, 3 * C, 2 * C), "rounded inward: the neighbours keep their data");
            assertEquals(2L * C + TAIL, rig.quota.usedBytes());
            rig.reader.discard(16 * C, TAIL);
            assertTrue(unallocated(rig, 16 * C, TAIL), "a discard to the end frees the short last cluster");
            assertEquals(2L * C, rig.quota.usedBytes());
            assertArrayEquals(Arrays.copyOfRange(old, 3 * C, 5 * C), rig.read(3 * C, 2 * C));
            assertEquals(Errno.EACCES, assertThrows(BlockIOException.class, () -> rig.read(C, 1)).errno());

            long fileBytes = Files.size(tempPath);
            rig.write(8 * C, new byte[2 * C]);
            assertTrue(allocated(rig, 8 * C, 2 * C));
            assertEquals(fileBytes, Files.size(tempPath), "later copies reuse the freed clusters");
            assertEquals(4L * C, rig.quota.usedBytes());
            assertArrayEquals(Arrays.copyOfRange(old, 8 * C, 10 * C), rig.read(8 * C, 2 * C));

            rig.tempImage.node().flush();
            // a copy: qemu-img cannot open the image while the node holds its lock, even with -U
            Path copy = Files.copy(tempPath, dir.resolve("flushed-copy.qcow2"));
            assertQemuImgCheckClean(copy);
        }
    }

    @Test
    void theQcow2TempIsDeletedWhenTheJobEnds() throws Exception {
        ActiveDisk disk = disk("vda", SIZE);
        Path temp = Files.createDirectory(dir.resolve("temp"));
        for (BackupOutcome outcome : List.of(BackupOutcome.SUCCESS, BackupOutcome.FAILURE)) {
            FleecingJob job = FleecingJob.start(FleecingJobSpec.builder(List.of(disk), TempSettings.qcow2(temp))
                    .clusterBytes(C).build());
            disk.exportNode().write(2 * C, ByteBuffer.wrap(pattern(C, 3)), WriteFlag.NONE);
            Path file = onlyFile(temp);
            assertTrue(file.getFileName().toString().endsWith(".qcow2"), file.toString());
            assertArrayEquals("QFI\u00fb".getBytes(StandardCharsets.ISO_8859_1),
                    Arrays.copyOf(Files.readAllBytes(file), 4), "the temp image is a qcow2 file");
            assertEquals(C, job.stats().tempBytes());
            job.disk("vda").exportNode().discard(2 * C, C);
            assertEquals(0, job.stats().tempBytes());
            job.finish(outcome);
            assertEquals(0, fileCount(temp), "the temp image is deleted after " + outcome);
        }
    }

    @Test
    void aFailedStartDeletesTheQcow2TempsItCreated() throws Exception {
        ActiveDisk vda = disk("vda", SIZE);
        // qcow2 with 64 KiB clusters ends at 2 PiB (a 32 MiB L1 table): vdb's temp cannot be made
        long huge = 4L << 50;
        ActiveDisk vdb = DiskOpener.over("vdb", new OversizedNode(RawFileNode.create(dir.resolve("vdb.raw"), C), huge),
                4096, 4 << 20);
        Path temp = Files.createDirectory(dir.resolve("temp"));
        BlockIOException e = assertThrows(BlockIOException.class, () -> FleecingJob.start(
                FleecingJobSpec.builder(List.of(vda, vdb), TempSettings.qcow2(temp)).clusterBytes(C).build()));
        assertEquals(Errno.EFBIG, e.errno(), e.toString());
        assertEquals(0, fileCount(temp), "vda's qcow2 temp is deleted");
        assertNull(vda.job());
        assertNull(vdb.job());
    }

    private ActiveDisk disk(String name, int size) throws Exception {
        RawFileNode image = RawFileNode.create(dir.resolve(name + ".raw"), size);
        image.write(0, ByteBuffer.wrap(pattern(size, 1)), WriteFlag.NONE);
        return DiskOpener.over(name, image, 4096, C);
    }

    private static boolean allocated(CbwRig rig, long offset, long length) throws BlockIOException {
        List<Extent> extents = rig.tempImage.node().blockStatus(offset, length);
        return extents.stream().allMatch(x -> x.allocated() && x.data()) && covers(extents, offset, length);
    }

    private static boolean unallocated(CbwRig rig, long offset, long length) throws BlockIOException {
        List<Extent> extents = rig.tempImage.node().blockStatus(offset, length);
        return extents.stream().noneMatch(Extent::allocated) && covers(extents, offset, length);
    }

    private static boolean covers(List<Extent> extents, long offset, long length) {
        return extents.getFirst().offset() == offset && extents.getLast().end() >= offset + length;
    }

    private static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static Path onlyFile(Path directory) throws IOException {
        try (var files = Files.list(directory)) {
            List<Path> all = files.toList();
            assertEquals(1, all.size(), all.toString());
            return all.getFirst();
        }
    }

    private static long fileCount(Path directory) throws IOException {
        try (var files = Files.list(directory)) {
            return files.count();
        }
    }

    private static void assertQemuImgCheckClean(Path image) throws IOException, InterruptedException {
        assumeTrue(onPath("qemu-img"), "qemu-img is not installed");
        Process p = new ProcessBuilder("qemu-img", "check", "-f", "qcow2", image.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "qemu-img check: " + out);
    }

    private static boolean onPath(String tool) {
        String path = System.getenv("PATH");
        return path != null && Arrays.stream(path.split(":")).anyMatch(d -> Files.isExecutable(Path.of(d, tool)));
    }

    /** Claims a size its child does not have; only its size is ever asked for. */
    private static final class OversizedNode extends FilterNode {
        private final long sizeBytes;

        OversizedNode(BlockNode child, long sizeBytes) {
            super(child);
            this.sizeBytes = sizeBytes;
        }

        @Override
        public long size() {
            return sizeBytes;
        }

        @Override
        public String describe() {
            return "oversized(" + child.describe() + ")";
        }

        @Override
        public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
            throw new IllegalStateException("not used");
        }

        @Override
        public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
            throw new IllegalStateException("not used");
        }

        @Override
        public void discard(long offset, long length) throws BlockIOException {
            throw new IllegalStateException("not used");
        }
    }
}
