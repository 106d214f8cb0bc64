package org.fleeced.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.fleeced.block.BlockNode;
import org.fleeced.block.ContractCheckingNode;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Thousands of seeded random reads, writes, zeroes and discards, aligned and not, against a
 * model, on several cluster sizes, with and without a (shorter) raw backing file. Operations
 * cluster around a few hot windows: the start, an L2 table boundary and the end of the disk, so
 * that requests cross cluster and L2 boundaries often. Afterwards the image is closed,
 * {@code qemu-img check} must find it clean, and qemu's raw conversion must match the model.
 */
@Timeout(180)
class Qcow2DifferentialTest {
    private static final int OPERATIONS = 2500;

    @TempDir
    Path dir;

    static Stream<Arguments> configurations() {
        return Stream.of(
                Arguments.of(512, false, 11L), Arguments.of(512, true, 12L),
                Arguments.of(4096, false, 21L), Arguments.of(4096, true, 22L),
                Arguments.of(65536, false, 31L), Arguments.of(65536, true, 32L),
                Arguments.of(2 << 20, false, 41L), Arguments.of(2 << 20, true, 42L));
    }

    @ParameterizedTest(name = "cluster {0}, backing {1}, seed {2}")
    @MethodSource("configurations")
    void randomOperationsMatchTheModel(int clusterSize, boolean withBacking, long seed) throws Exception {
        Qcow2Layout layout = new Qcow2Layout(Integer.numberOfTrailingZeros(clusterSize), 4);
        long l2Boundary = layout.bytesPerL2Table();
        long size = l2Boundary <= (256L << 20) ? l2Boundary + (8L << 20) + 1536 : (64L << 20) + 1536; // qemu sees whole sectors only
        Random random = new Random(seed);
        byte[] base = new byte[0];
        Path image = dir.resolve("disk.qcow2");
        Qcow2CreateOptions options = Qcow2CreateOptions.of(size).withClusterSize(clusterSize);
        if (withBacking) {
            base = new byte[(int) Math.min(size / 2, 16L << 20)];
            random.nextBytes(base);
            Files.write(dir.resolve("base.raw"), base);
            options = options.withBacking("base.raw", "raw");
        }
        Qcow2Creator.create(image, options);
        SparseDiskModel model = new SparseDiskModel(base);
        long[] windows = {0, Math.min(l2Boundary, size) - (1 << 20), size - (2 << 20)};
        try (BlockNode node = new ContractCheckingNode(Qcow2Node.open(image, Qcow2OpenOptions.readWrite()))) {
            for (int i = 0; i < OPERATIONS; i++) {
                long window = windows[random.nextInt(windows.length)];
                long offset = Math.max(0, window + random.nextInt(2 << 20));
                offset = Math.min(offset, size - 1);
                if (random.nextBoolean()) {
                    offset &= -512L;
                }
                int maxLen = random.nextInt(10) == 0 ? 3 * clusterSize + 5000 : 20000;
                int length = (int) Math.min(size - offset, 1 + random.nextInt(maxLen));
                String where = "seed " + seed + " op " + i + " [" + offset + ", +" + length + ")";
                operate(node, model, random, offset, length, where);
            }
        }
        try (BlockNode node = Qcow2Node.open(image, Qcow2OpenOptions.readOnlyDefaults())) {
            for (long page : model.touchedPages()) {
                byte[] actual = new byte[(int) Math.min(SparseDiskModel.pageSize(), size - page)];
                node.read(page, ByteBuffer.wrap(actual));
                assertEquals(-1, model.checkAndSettle(page, actual), "seed " + seed + ": reopened image differs");
            }
        }
        QemuTools.assumeQemuImg();
        QemuTools.assertCheckClean(image);
        Path raw = dir.resolve("out.raw");
        QemuTools.ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", image.toString(), raw.toString());
        for (long page : model.touchedPages()) {
            int n = (int) Math.min(SparseDiskModel.pageSize(), size - page);
            long bad = model.checkAndSettle(page, Qcow2ImageFiles.readFile(raw, page, n));
            assertEquals(-1, bad, "seed " + seed + ": qemu reads byte " + bad + " differently from the model");
        }
    }

    private static void operate(BlockNode node, SparseDiskModel model, Random random, long offset, int length, String where)
            throws Exception {
        switch (random.nextInt(10)) {
            case 0, 1, 2, 3 -> {
                byte[] data = new byte[length];
                random.nextBytes(data);
                node.write(offset, ByteBuffer.wrap(data), random.nextInt(20) == 0 ? Set.of(WriteFlag.FUA) : WriteFlag.NONE);
                model.write(offset, data);
            }
            case 4 -> {
                node.writeZeroes(offset, length, random.nextBoolean() ? Set.of(WriteFlag.MAY_UNMAP) : WriteFlag.NONE);
                model.zero(offset, length);
            }
            case 5 -> {
                node.discard(offset, length);
                model.discard(offset, length);
            }
            case 6 -> checkStatus(node, model, offset, length, where);
            case 7 -> node.flush();
            default -> {
                byte[] actual = new byte[length];
                node.read(offset, ByteBuffer.wrap(actual));
                long bad = model.checkAndSettle(offset, actual);
                if (bad >= 0) {
                    fail(where + ": byte " + bad + " reads " + actual[(int) (bad - offset)] + ", model has " + model.get(bad));
                }
            }
        }
    }

    /** Extents marked zero must be zero in the model (unknown bytes excepted). */
    private static void checkStatus(BlockNode node, SparseDiskModel model, long offset, long length, String where)
            throws Exception {
        List<Extent> extents = node.blockStatus(offset, length);
        for (Extent e : extents) {
            if (e.zero()) {
                for (long b = e.offset(); b < e.end(); b++) {
                    if (!model.isUnknown(b) && model.get(b) != 0) {
                        fail(where + ": " + e + " reported zero, but byte " + b + " is " + model.get(b));
                    }
                }
            }
        }
    }
}
