package org.fleeced.checksum;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.EnumSet;
import java.util.Random;
import java.util.concurrent.CancellationException;

import org.fleeced.block.BlockNode;
import org.fleeced.block.ContractCheckingNode;
import org.fleeced.block.file.RawFileNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ChecksumRunTest {
    @TempDir
    Path dir;

    /** The construction as README states it, over the file's bytes: what the run must agree with. */
    private static String reference(byte[] disk, int blockSize) throws Exception {
        MessageDigest whole = MessageDigest.getInstance("SHA-256");
        for (int off = 0; off < disk.length; off += blockSize) {
            MessageDigest block = MessageDigest.getInstance("SHA-256");
            block.update(disk, off, Math.min(blockSize, disk.length - off));
            whole.update(block.digest());
        }
        return BlockChecksum.hex(whole.digest());
    }

    /**
     * Rows: block size, threads, disk size. They cover a short last block, one block per chunk
     * and many, blocks larger than a chunk, more than one batch, and one thread against several.
     */
    @ParameterizedTest
    @CsvSource({
            "4096, 1, 9438442",
            "65536, 3, 9438442",
            "4194304, 2, 9438442",
            "65536, 2, 136314880",
            "4096, 3, 4096",
    })
    void agreesWithTheConstructionOnASparseDiskWithData(int blockSize, int threads, long size) throws Exception {
        Path image = dir.resolve("disk.raw");
        try (BlockNode node = RawFileNode.create(image, size)) {
            Random random = new Random(size ^ blockSize);
            for (long off : new long[] {0, 5 << 20, size - 100, 8 << 20}) {
                if (off < 0 || off >= size) {
                    continue;
                }
                byte[] data = new byte[(int) Math.min(70_000, size - off) & ~511];
                random.nextBytes(data);
                if (data.length > 0) {
                    node.write(off & ~511, ByteBuffer.wrap(data), EnumSet.noneOf(org.fleeced.block.WriteFlag.class));
                }
            }
            // zeroes written as data: read, found all zero, given the zero digest all the same
            if (size > 2 << 20) {
                node.write(1 << 20, ByteBuffer.allocate(65536), EnumSet.noneOf(org.fleeced.block.WriteFlag.class));
            }
            node.flush();
        }
        byte[] bytes = Files.readAllBytes(image);
        try (BlockNode node = new ContractCheckingNode(RawFileNode.open(image, true))) {
            ChecksumRun run = new ChecksumRun(node, new BlockChecksum(blockSize), threads);
            ChecksumRun.Result result = run.run();
            assertEquals(reference(bytes, blockSize), result.checksum());
            assertEquals(size, run.doneBytes());
            assertEquals("sha256", result.algorithm());
            assertTrue(size < 2 << 20 || blockSize > 1 << 20 || result.zeroBytes() > 0, "the holes were skipped as zero");
        }
    }

    @Test
    void anEmptyDiskHasTheDigestOfNothing() throws Exception {
        try (BlockNode node = RawFileNode.create(dir.resolve("empty.raw"), 0)) {
            assertEquals(BlockChecksum.hex(BlockChecksum.sha256().digest()),
                    new ChecksumRun(node, new BlockChecksum(65536), 2).run().checksum());
        }
    }

    @Test
    void theBlockSizeIsPartOfTheChecksum() throws Exception {
        try (BlockNode node = RawFileNode.create(dir.resolve("zero.raw"), 1 << 20)) {
            assertNotEquals(new ChecksumRun(node, new BlockChecksum(4096), 1).run().checksum(),
                    new ChecksumRun(node, new BlockChecksum(65536), 1).run().checksum());
        }
    }

    @Test
    void aCancelledRunStops() throws Exception {
        try (BlockNode node = RawFileNode.create(dir.resolve("c.raw"), 8 << 20)) {
            ChecksumRun run = new ChecksumRun(node, new BlockChecksum(65536), 2);
            run.cancel();
            assertThrows(CancellationException.class, run::run);
        }
    }

    @Test
    void blockSizesOutsideTheRangeOrNotPowersOfTwoAreRefused() {
        for (int bad : new int[] {0, 2048, 65535, 8 << 20}) {
            assertThrows(IllegalArgumentException.class, () -> new BlockChecksum(bad));
        }
    }
}
