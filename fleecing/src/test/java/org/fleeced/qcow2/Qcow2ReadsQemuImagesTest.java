package org.fleeced.qcow2;

import static org.fleeced.qcow2.QemuTools.ok;
import static org.fleeced.qcow2.QemuTools.qemuIo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.fleeced.block.BlockNode;
import org.fleeced.block.ContractCheckingNode;
import org.fleeced.block.Extent;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Images written by qemu-img and qemu-io read back bit-identical through the driver, compared
 * with {@code qemu-img convert -O raw} of the same image.
 */
@Timeout(120)
class Qcow2ReadsQemuImagesTest {
    @TempDir
    Path dir;

    @BeforeEach
    void needQemu() {
        QemuTools.assumeQemuImg();
        QemuTools.assumeQemuIo();
    }

    @ParameterizedTest(name = "cluster size {0}")
    @ValueSource(ints = {4096, 65536, 2 << 20})
    void imagesWrittenByQemuIoReadIdentically(int clusterSize) throws Exception {
        Path img = dir.resolve("q.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=" + clusterSize, img.toString(), "24M");
        qemuIo(img, "qcow2",
                "write -P 0xab 0 100k", "write -P 0x11 1000000 3333", "write -P 0x22 5M 2M",
                "write -z 5500k 600k", "discard 6M 128k", "write -P 0x33 25165312 512", "write -P 0x44 7M 1");
        assertReadsLikeQemu(img, "qcow2");
    }

    @ParameterizedTest(name = "refcount bits {0}")
    @ValueSource(ints = {1, 2, 4, 8, 16, 32, 64})
    void everyRefcountWidthReadsAndWrites(int refcountBits) throws Exception {
        Path img = dir.resolve("r.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096,refcount_bits=" + refcountBits,
                img.toString(), "4M");
        qemuIo(img, "qcow2", "write -P 0x5a 0 300k");
        try (Qcow2Node node = Qcow2Node.open(img, Qcow2OpenOptions.readWrite())) {
            node.write(1 << 20, java.nio.ByteBuffer.wrap(Qcow2ImageFiles.pattern(700_000, refcountBits)), org.fleeced.block.WriteFlag.NONE);
            node.discard(0, 128 << 10);
        }
        QemuTools.assertCheckClean(img);
        assertReadsLikeQemu(img, "qcow2");
    }

    @Test
    void compressedClustersReadIdentically() throws Exception {
        Path raw = dir.resolve("src.raw");
        byte[] content = new byte[8 << 20];
        Random r = new Random(7);
        for (int i = 0; i < content.length; i += 4096) {
            // Compressible but not trivial: runs of one random byte, and some random blocks.
            byte v = (byte) r.nextInt();
            for (int j = 0; j < 4096; j++) {
                content[i + j] = (i / 4096) % 5 == 0 ? (byte) r.nextInt() : v;
            }
        }
        Files.write(raw, content);
        for (String cs : List.of("4096", "65536")) {
            Path img = dir.resolve("c" + cs + ".qcow2");
            ok("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=" + cs, raw.toString(), img.toString());
            try (BlockNode node = new ContractCheckingNode(Qcow2Node.open(img, Qcow2OpenOptions.readOnlyDefaults()))) {
                assertArrayEquals(content, Qcow2ImageFiles.readAll(node), "cluster size " + cs);
            }
            String map = ok("qemu-img", "map", "--output=json", img.toString());
            assertTrue(map.contains("\"data\": true"), map);
        }
        Path img = dir.resolve("c65536.qcow2");
        try (Qcow2Node node = Qcow2Node.open(img, Qcow2OpenOptions.readWrite())) {
            node.write(12345, java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}), org.fleeced.block.WriteFlag.NONE);
            node.discard(1 << 20, 1 << 20);
        }
        QemuTools.assertCheckClean(img);
        content[12345] = 1;
        content[12346] = 2;
        content[12347] = 3;
        try (BlockNode node = Qcow2Node.open(img, Qcow2OpenOptions.readOnlyDefaults())) {
            byte[] all = Qcow2ImageFiles.readAll(node);
            assertArrayEquals(java.util.Arrays.copyOf(content, 1 << 20), java.util.Arrays.copyOf(all, 1 << 20));
        }
    }

    @Test
    void version2ImagesReadAndWrite() throws Exception {
        Path img = dir.resolve("v2.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", img.toString(), "8M");
        qemuIo(img, "qcow2", "write -P 0x77 0 70k", "write -P 0x78 3M 1M", "write -z 3M 64k");
        assertReadsLikeQemu(img, "qcow2");
        try (Qcow2Node node = Qcow2Node.open(img, Qcow2OpenOptions.readWrite())) {
            node.write(5 << 20, java.nio.ByteBuffer.wrap(Qcow2ImageFiles.pattern(100_000, 2)), org.fleeced.block.WriteFlag.NONE);
            node.writeZeroes(0, 65536, org.fleeced.block.WriteFlag.NONE);
        }
        QemuTools.assertCheckClean(img);
        assertReadsLikeQemu(img, "qcow2");
    }

    @Test
    void zeroClustersReadAsZeroesOverBacking() throws Exception {
        Path base = dir.resolve("base.qcow2");
        Path top = dir.resolve("top.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), "4M");
        qemuIo(base, "qcow2", "write -P 0x99 0 4M");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.getFileName().toString(), "-F", "qcow2", top.toString(), "4M");
        qemuIo(top, "qcow2", "write -z 64k 128k", "write -z -u 1M 1M");
        assertReadsLikeQemu(top, "qcow2");
        try (BlockNode node = Qcow2Node.open(top, Qcow2OpenOptions.readOnlyDefaults())) {
            List<Extent> e = node.blockStatus(64 << 10, 128 << 10);
            assertEquals(new Extent(64 << 10, 128 << 10, false, true, 1), e.getFirst());
        }
    }

    @Test
    void threeDeepChainWithRawBaseShorterThanOverlays() throws Exception {
        Path base = dir.resolve("base.raw");
        Files.write(base, Qcow2ImageFiles.pattern(3 << 20, 1));
        Path mid = dir.resolve("mid.qcow2");
        Path top = dir.resolve("top.qcow2");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "base.raw", "-F", "raw", mid.toString(), "6M");
        qemuIo(mid, "qcow2", "write -P 0x21 1M 100k", "write -P 0x22 4M 64k");
        ok("qemu-img", "create", "-q", "-f", "qcow2", "-b", "mid.qcow2", "-F", "qcow2", top.toString(), "8M");
        qemuIo(top, "qcow2", "write -P 0x31 1050k 10k", "write -P 0x32 7M 5000");
        assertReadsLikeQemu(top, "qcow2");
        try (BlockNode node = new ContractCheckingNode(ImageOpener.open(top, true))) {
            assertEquals(3, depthAt(node, 0), "raw base");
            assertEquals(2, depthAt(node, 4 << 20), "mid");
            assertEquals(1, depthAt(node, 1 << 20), "top cluster over mid");
            assertEquals(1, depthAt(node, 1050 << 10), "top");
            assertEquals(0, depthAt(node, 5 << 20), "past every layer");
            assertEquals(1, depthAt(node, 7 << 20), "top past the base");
        }
    }

    private static int depthAt(BlockNode node, long offset) throws Exception {
        return node.blockStatus(offset, 512).getFirst().depth();
    }

    /** Compares the whole image read through the driver with qemu-img's raw conversion. */
    private void assertReadsLikeQemu(Path img, String format) throws Exception {
        Path raw = dir.resolve("expected.raw");
        Files.deleteIfExists(raw);
        ok("qemu-img", "convert", "-f", format, "-O", "raw", img.toString(), raw.toString());
        byte[] expected = Files.readAllBytes(raw);
        try (BlockNode node = new ContractCheckingNode(ImageOpener.open(img, true))) {
            byte[] actual = Qcow2ImageFiles.readAll(node);
            assertEquals(expected.length, actual.length);
            for (int i = 0; i < expected.length; i++) {
                if (expected[i] != actual[i]) {
                    throw new AssertionError(img + ": byte " + i + " reads " + actual[i] + ", qemu reads " + expected[i]);
                }
            }
            checkStatusAgrees(node, expected);
        }
    }

    /** Every range reported zero must read as zeroes. */
    private static void checkStatusAgrees(BlockNode node, byte[] content) throws Exception {
        long pos = 0;
        while (pos < node.size()) {
            List<Extent> extents = node.blockStatus(pos, node.size() - pos);
            for (Extent e : extents) {
                if (e.zero()) {
                    for (long i = e.offset(); i < e.end(); i++) {
                        if (content[(int) i] != 0) {
                            throw new AssertionError("extent " + e + " reported zero but byte " + i + " is " + content[(int) i]);
                        }
                    }
                }
            }
            pos = extents.getLast().end();
        }
    }
}
