package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.tracking.IntentLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Persistent bitmaps as QEMU sees them: qemu-img, qemu-nbd and nbdinfo on images fleeced wrote. */
class PersistentBitmapsQemuInteropTest {
    private static final long SIZE = 64L << 20;
    private static final long CLUSTER = 64 << 10;
    @TempDir
    Path dir;

    @Test
    void aBitmapAddedByQemuRecordsFleecedWritesAndQemuExportsExactlyThem() throws Exception {
        ExternalTools.assume("qemu-img", "qemu-nbd", "nbdinfo");
        Path image = dir.resolve("disk.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        ExternalTools.ok("qemu-img", "bitmap", "--add", image.toString(), "b0");
        long seed = 20261122L;
        Random random = new Random(seed);
        ClusterRuns expected = new ClusterRuns(SIZE, CLUSTER);
        try (BitmapDisk disk = BitmapDisk.open(image, false)) {
            assertEquals(BitmapState.RECORDING, disk.bitmaps().list().getFirst().state());
            BlockNode node = disk.node();
            for (int i = 0; i < 40; i++) {
                long offset = random.nextLong(SIZE - (300 << 10));
                int length = 1 + random.nextInt(300 << 10);
                switch (i % 4) {
                    case 0, 1 -> node.write(offset, ByteBuffer.allocate(length), WriteFlag.NONE);
                    case 2 -> node.writeZeroes(offset, length, WriteFlag.of(WriteFlag.MAY_UNMAP));
                    default -> node.discard(offset, length);
                }
                expected.add(offset, length);
            }
            node.write(SIZE - 1, ByteBuffer.allocate(1), WriteFlag.NONE);
            expected.add(SIZE - 1, 1);
        }
        assertFalse(Files.exists(IntentLog.sidecarFor(image)), "a clean close deletes the sidecar");
        assertEquals(expected.runs(), ExternalTools.qemuDirtyMap(image, "b0"), "seed " + seed);
        assertEquals(0, ExternalTools.run("qemu-img", "check", image.toString()).exitCode(),
                ExternalTools.run("qemu-img", "check", image.toString()).output());
    }

    @Test
    void bitmapsFleecedCreatesAreListedByQemuImgWithTheirFlagsAndPassCheck() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = dir.resolve("created.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        try (BitmapDisk disk = BitmapDisk.open(image, false)) {
            PersistentBitmaps bitmaps = disk.bitmaps();
            bitmaps.add("live", 1 << 16, true, true);
            bitmaps.add("frozen", 1 << 20, false, true);
            bitmaps.add("scratch", 1 << 16, true, false);
            disk.node().write(5L << 20, ByteBuffer.allocate(8192), WriteFlag.NONE);
            String whileOpen = ExternalTools.ok("qemu-img", "info", "-U", "--output=json", image.toString());
            assertTrue(whileOpen.contains("\"in-use\""), "IN_USE is set while fleeced has the image open:\n" + whileOpen);
        }
        String info = ExternalTools.ok("qemu-img", "info", "--output=json", image.toString());
        assertTrue(info.matches("(?s).*\"flags\": \\[\\s*\"auto\"\\s*\\],\\s*\"name\": \"live\",\\s*\"granularity\": 65536.*"), info);
        assertTrue(info.matches("(?s).*\"flags\": \\[\\s*\\],\\s*\"name\": \"frozen\",\\s*\"granularity\": 1048576.*"), info);
        assertFalse(info.contains("scratch"), "a non-persistent bitmap is never stored:\n" + info);
        assertFalse(info.contains("in-use"), info);
        assertEquals(0, ExternalTools.run("qemu-img", "check", image.toString()).exitCode());

        try (BitmapDisk disk = BitmapDisk.open(image, false)) {
            PersistentBitmaps again = disk.bitmaps();
            List<BitmapInfo> infos = again.list();
            assertEquals(List.of("live", "frozen"), infos.stream().map(BitmapInfo::name).toList());
            assertEquals(BitmapState.RECORDING, infos.get(0).state());
            assertEquals(BitmapState.FROZEN, infos.get(1).state());
            assertTrue(again.get("live").get(5L << 20));
            assertFalse(again.get("frozen").get(5L << 20));
            again.remove("frozen");
        }
        assertFalse(ExternalTools.ok("qemu-img", "info", image.toString()).contains("frozen"));
        assertEquals(0, ExternalTools.run("qemu-img", "check", image.toString()).exitCode(),
                ExternalTools.run("qemu-img", "check", image.toString()).output());
    }
}
