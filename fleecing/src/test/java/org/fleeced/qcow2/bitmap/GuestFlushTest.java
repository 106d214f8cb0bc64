package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.qcow2.Qcow2Metadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest's flush holds no guest write back for the length of a sync when it has no metadata to
 * write: the image is synced once, with the metadata lock free. A flush after allocating writes
 * still makes the new mapping durable: a power loss right after it keeps the data readable.
 */
class GuestFlushTest {
    private static final long SIZE = 16L << 20;
    @TempDir
    Path dir;

    @Test
    void aFlushAfterOverwritesSyncsTheImageOnceWithTheMetadataLockFree() throws Exception {
        Path image = fullyWrittenImage();
        PowerLossFileSystem fs = new PowerLossFileSystem();
        BitmapDisk disk = BitmapDisk.open(fs.wrap(image), false);
        Qcow2Metadata metadata = disk.bitmaps().metadata();
        List<Boolean> lockedAtSync = syncsOf(fs, image, metadata);
        BlockNode node = disk.node();
        node.write(1L << 20, ByteBuffer.wrap(filled(64 << 10, 0x22)), WriteFlag.NONE);
        node.flush();
        fs.watchForces(file -> { });
        disk.close();

        assertEquals(List.of(false), lockedAtSync, "the image's syncs for one flush (true: under the metadata lock)");
    }

    /**
     * Refcount blocks a bitmap store left dirty (its allocations and frees) are written by the
     * next guest flush and synced with the lock free: the cluster allocated here is on the disk
     * as leaked (refcount 1, nothing points at it) after a power loss, and freed again after the
     * next flush.
     */
    @Test
    void refcountChangesAloneAreWrittenByAFlushThatSyncsWithTheLockFree() throws Exception {
        Path image = fullyWrittenImage();
        PowerLossFileSystem fs = new PowerLossFileSystem();
        BitmapDisk disk = BitmapDisk.open(fs.wrap(image), false);
        Qcow2Metadata metadata = disk.bitmaps().metadata();
        List<Boolean> lockedAtSync = syncsOf(fs, image, metadata);
        metadata.lock();
        long cluster;
        try {
            cluster = metadata.allocateClustersLocked(1);
        } finally {
            metadata.unlock();
        }
        disk.node().flush();
        fs.watchForces(file -> { });
        Path copy = dir.resolve("after-allocation.qcow2");
        Files.copy(image, copy);
        metadata.lock();
        try {
            metadata.freeNowLocked(cluster, 1);
        } finally {
            metadata.unlock();
        }
        disk.node().flush();
        fs.powerLoss(new Random(2), 0.0);

        assertEquals(List.of(false, false), lockedAtSync, "the image's syncs for the flush (true: under the lock)");
        assertEquals(1, refcountOnDisk(copy, cluster), "the allocation's refcount reached the file");
        assertEquals(0, refcountOnDisk(image, cluster), "the free reached the file too");
        ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
        assertEquals(0, check.exitCode(), check.output());
    }

    @Test
    void aFlushAfterAllocatingWritesMakesTheMappingDurable() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = dir.resolve("disk.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        PowerLossFileSystem fs = new PowerLossFileSystem();
        BitmapDisk disk = BitmapDisk.open(fs.wrap(image), false);
        BlockNode node = disk.node();
        byte[] data = filled(256 << 10, 0x5a);
        node.write(8L << 20, ByteBuffer.wrap(data), WriteFlag.NONE);
        node.flush();
        fs.powerLoss(new Random(1), 0.0);

        ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
        assertTrue(check.exitCode() == 0 || check.exitCode() == 3, "only leaks may remain: " + check.output());
        Path read = dir.resolve("read.raw");
        ExternalTools.ok("qemu-img", "convert", "-f", "qcow2", "-O", "raw", image.toString(), read.toString());
        byte[] all = Files.readAllBytes(read);
        assertTrue(Arrays.equals(data, Arrays.copyOfRange(all, 8 << 20, (8 << 20) + data.length)),
                "the flushed write survives the power loss");
    }

    private Path fullyWrittenImage() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = dir.resolve("disk.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        ExternalTools.ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 " + SIZE, image.toString());
        return image;
    }

    /** For each sync of the image from now on: whether the metadata lock was held. */
    private static List<Boolean> syncsOf(PowerLossFileSystem fs, Path image, Qcow2Metadata metadata) {
        List<Boolean> lockedAtSync = Collections.synchronizedList(new ArrayList<>());
        fs.watchForces(file -> {
            if (file.equals(image)) {
                lockedAtSync.add(metadata.isLocked());
            }
        });
        return lockedAtSync;
    }

    private static long refcountOnDisk(Path image, long cluster) throws Exception {
        BitmapDisk disk = BitmapDisk.open(image, true);
        try {
            Qcow2Metadata metadata = disk.bitmaps().metadata();
            metadata.lock();
            try {
                return metadata.refcountLocked(cluster);
            } finally {
                metadata.unlock();
            }
        } finally {
            disk.close();
        }
    }

    private static byte[] filled(int length, int value) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) value);
        return b;
    }
}
