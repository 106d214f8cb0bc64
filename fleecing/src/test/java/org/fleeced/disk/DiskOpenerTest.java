package org.fleeced.disk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.checkpoint.CheckpointInfo;
import org.fleeced.qcow2.ImageOpener;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.tracking.IntentLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stacks {@link DiskOpener} builds, on real images: one tracking filter, one owner of the close. */
class DiskOpenerTest {
    static final long SIZE = 8 << 20;
    static final long G = DiskOpener.DEFAULT_GRANULARITY;

    @TempDir
    Path dir;

    @Test
    void aQcow2DiskRecordsEachWriteOnceInAPersistentCheckpointAndClosesCleanly() throws Exception {
        Path image = dir.resolve("vda.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(SIZE));
        try (ActiveDisk disk = DiskOpener.open(DiskSpec.of("vda", image, ImageOpener.Format.QCOW2))) {
            assertEquals(1, count(disk.describe(), "dirty-tracking("), disk.describe());
            assertTrue(disk.checkpoints().persistent());
            assertTrue(Files.exists(IntentLog.sidecarFor(image)), "the intent log exists while the disk is open");
            disk.checkpoints().create("c1");
            disk.exportNode().write(3 * G, ByteBuffer.allocate(512), WriteFlag.NONE);
            assertEquals(G, only(disk).dirtyBytes());
        }
        assertFalse(Files.exists(IntentLog.sidecarFor(image)), "the clean close deletes the intent log");
        try (ActiveDisk again = DiskOpener.open(DiskSpec.of("vda", image, ImageOpener.Format.QCOW2))) {
            assertEquals("c1", only(again).name());
            assertEquals(G, only(again).dirtyBytes(), "the checkpoint was stored in the image at close");
        }
    }

    @Test
    void aRawDiskRecordsEachWriteOnceInACheckpointBesideTheImage() throws Exception {
        Path image = dir.resolve("vdb.raw");
        RawFileNode.create(image, SIZE).close();
        try (ActiveDisk disk = DiskOpener.open(DiskSpec.of("vdb", image, ImageOpener.Format.RAW))) {
            assertEquals(1, count(disk.describe(), "dirty-tracking("), disk.describe());
            assertTrue(disk.checkpoints().persistent());
            assertTrue(disk.persistentBitmaps().isEmpty(), "no qcow2 bitmaps to export");
            assertTrue(Files.exists(IntentLog.sidecarFor(image)), "the intent log exists while the disk is open");
            disk.checkpoints().create("c1");
            disk.exportNode().write(0, ByteBuffer.allocate(2 * (int) G), WriteFlag.NONE);
            assertEquals(2 * G, only(disk).dirtyBytes());
        }
        assertFalse(Files.exists(IntentLog.sidecarFor(image)), "the clean close deletes the intent log");
        try (ActiveDisk again = DiskOpener.open(DiskSpec.of("vdb", image, ImageOpener.Format.RAW))) {
            assertEquals("c1", only(again).name());
            assertEquals(2 * G, only(again).dirtyBytes(), "the checkpoint was stored in the bitmap sidecar at close");
        }
    }

    @Test
    void aReadOnlyRawDiskKeepsItsCheckpointsInMemoryAndWritesNothingBesideIt() throws Exception {
        Path image = dir.resolve("vdr.raw");
        RawFileNode.create(image, SIZE).close();
        try (ActiveDisk disk = DiskOpener.open(DiskSpec.of("vdr", image, ImageOpener.Format.RAW).readOnly(true))) {
            assertFalse(disk.checkpoints().persistent());
        }
        for (Path sidecar : DiskSidecars.of(image)) {
            assertFalse(Files.exists(sidecar), sidecar + " was written beside a read-only image");
        }
    }

    @Test
    void aRawDiskWithoutCheckpointsHasNoPolicyFilter() throws Exception {
        Path image = dir.resolve("served.raw");
        RawFileNode.create(image, SIZE).close();
        try (ActiveDisk disk = DiskOpener.open(DiskSpec.of("served", image, ImageOpener.Format.RAW).withoutCheckpoints())) {
            assertEquals(0, count(disk.describe(), "dirty-tracking("), disk.describe());
            assertThrows(IllegalStateException.class, disk::checkpoints);
        }
    }

    @Test
    void aBadNameOpensNothing() throws Exception {
        Path image = dir.resolve("vdc.raw");
        RawFileNode.create(image, SIZE).close();
        assertThrows(IllegalArgumentException.class,
                () -> DiskOpener.open(DiskSpec.of("../vdc", image, ImageOpener.Format.RAW)));
        try (ActiveDisk disk = DiskOpener.open(DiskSpec.of("vdc", image, ImageOpener.Format.RAW))) {
            assertEquals(SIZE, disk.exportNode().size(), "the image was not left locked");
        }
    }

    private static CheckpointInfo only(ActiveDisk disk) {
        assertEquals(1, disk.checkpoints().list().size(), disk.checkpoints().list().toString());
        return disk.checkpoints().list().getFirst();
    }

    private static int count(String text, String part) {
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }
}
