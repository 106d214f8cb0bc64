package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.checkpoint.BackupBase;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.checkpoint.CheckpointInfo;
import org.fleeced.checkpoint.CheckpointStart;
import org.fleeced.checkpoint.CheckpointSet;
import org.fleeced.checkpoint.SidecarBitmaps;
import org.fleeced.qcow2.Qcow2Metadata;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.disk.DiskSidecars;
import org.fleeced.disk.DiskSpec;
import org.fleeced.qcow2.ImageOpener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12 point 2: storing bitmaps never holds guest I/O for the length of a sync. Guest
 * requests take the image's metadata lock (every mapping lookup and allocation does), so the
 * rule checked here is structural, with no clock: no sync of the image happens while the
 * metadata lock is held, in any kind of store (periodic, after a checkpoint change, the clean
 * close's), and a job's checkpoint is made durable by the checkpoint journal, never by a sync
 * of the image (a crash copy taken right after recovers it). A store still writes the guest's mapping back (so a
 * process crash loses no acknowledged write that a store preceded). A raw disk's store (its bitmap
 * sidecar) syncs holding no lock a checkpoint transition needs.
 * <pre>
 *   DiskOpener's stack ──▶ PersistentBitmaps ──▶ qcow2 ──▶ PowerLossFileSystem (never loses power here)
 *                                      └─ every force of the image: was the metadata lock held?
 * </pre>
 */
class StoreOffTheGuestPathTest {
    private static final long SIZE = 64L << 20;
    private static final long GRANULARITY = 1 << 16;
    @TempDir
    Path dir;

    @Test
    void noStoreSyncsTheImageUnderTheMetadataLock() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = dir.resolve("disk.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        ExternalTools.ok("qemu-img", "bitmap", "--add", "-g", "64K", image.toString(), "base");
        PowerLossFileSystem fs = new PowerLossFileSystem();
        BitmapDisk disk = BitmapDisk.open(fs.wrap(image), false);
        PersistentBitmaps bitmaps = disk.bitmaps();
        Qcow2Metadata metadata = bitmaps.metadata();
        List<Boolean> lockedAtSync = Collections.synchronizedList(new ArrayList<>());
        fs.watchForces(file -> {
            if (file.equals(image)) {
                lockedAtSync.add(metadata.isLocked());
            }
        });
        BlockNode node = disk.node();
        ByteBuffer data = ByteBuffer.allocate(256 << 10);
        for (long offset = 0; offset < SIZE; offset += 4L << 20) {
            node.write(offset, data.clear(), WriteFlag.NONE);
        }
        ByteBuffer pattern = ByteBuffer.allocate(256 << 10);
        java.util.Arrays.fill(pattern.array(), (byte) 0x5a);
        node.write(8L << 20, pattern, WriteFlag.NONE);
        bitmaps.checkpointToImage();
        // the store wrote the guest's new mapping back too: what a kill -9 now would leave
        Path copy = java.nio.file.Files.copy(image, dir.resolve("as-a-crash-leaves-it.qcow2"));
        String map = ExternalTools.ok("qemu-img", "map", "-f", "qcow2", "--output=json", copy.toString());
        assertTrue(map.contains("\"start\": 8388608, \"length\": 262144, \"depth\": 0, \"present\": true, \"zero\": false, \"data\": true"),
                "the new cluster is mapped in the image: " + map);
        bitmaps.add("c1", GRANULARITY, true, true);
        node.write(1L << 20, data.clear(), WriteFlag.NONE);
        bitmaps.setEnabled("base", false);
        bitmaps.remove("base");
        bitmaps.close();
        fs.watchForces(file -> { });
        disk.close();

        assertFalse(lockedAtSync.isEmpty(), "the stores synced the image");
        assertEquals(List.of(), lockedAtSync.stream().filter(l -> l).toList(),
                "syncs of a store under the metadata lock, of " + lockedAtSync.size());
        ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
        assertEquals(0, check.exitCode(), check.output());
        assertTrue(ExternalTools.ok("qemu-img", "info", image.toString()).contains("name: c1"));
    }

    /**
     * A raw disk's store rewrites its bitmap sidecar holding only its own store lock: at every
     * sync of the sidecar, another thread takes the checkpoints' lock (a job's start and an API
     * transition need it) and the sidecar's state lock (a checkpoint's creation needs it) at once.
     * A store that held either across its sync would hang this test in the probe.
     */
    @Test
    void aRawDisksStoreSyncsWithNoLockATransitionNeeds() throws Exception {
        Path image = dir.resolve("vm.raw");
        try (java.io.RandomAccessFile file = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(SIZE);
        }
        PowerLossFileSystem fs = new PowerLossFileSystem();
        Path wrapped = fs.wrap(image);
        SidecarBitmaps sidecar = SidecarBitmaps.open(wrapped, SIZE, 20, 0);
        CheckpointSet checkpoints = CheckpointSet.open(SIZE, GRANULARITY, sidecar);
        checkpoints.create("a");
        List<String> probes = Collections.synchronizedList(new ArrayList<>());
        fs.watchForces(file -> {
            if (file.getFileName().toString().equals("vm.raw.fleeced-bitmaps.new")) {
                Thread probe = Thread.ofVirtual().start(() -> probes.add(checkpoints.list().size() + " checkpoints, "
                        + sidecar.loadAll().size() + " stored"));
                joinUninterruptibly(probe);
            }
        });
        sidecar.checkpointToImage();
        sidecar.close();
        fs.watchForces(file -> { });
        assertEquals(List.of("1 checkpoints, 1 stored", "1 checkpoints, 1 stored"), probes,
                "both syncs of the sidecar (the store's and the close's) left the locks free");
    }

    /**
     * A job's start creates its checkpoint while guest writes are drained, so it must not wait
     * for a background store of the same image: at every sync of the image in a periodic store,
     * another thread adds a bitmap without a store (what a job's start does; the journal makes it
     * durable), lists and reads the bitmaps. A store that held the lock those need across its
     * syncs would hang this test in the probe. The bitmap added meanwhile reaches the image with
     * the next store, and one removed meanwhile leaves it then, with nothing leaked.
     */
    @Test
    void aCheckpointsCreationDoesNotWaitForAStoresSyncs() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = dir.resolve("busy.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        ExternalTools.ok("qemu-img", "bitmap", "--add", "-g", "64K", image.toString(), "old");
        PowerLossFileSystem fs = new PowerLossFileSystem();
        BitmapDisk disk = BitmapDisk.open(fs.wrap(image), false);
        PersistentBitmaps bitmaps = disk.bitmaps();
        disk.node().write(0, ByteBuffer.allocate(64 << 10), WriteFlag.NONE);
        List<String> probes = Collections.synchronizedList(new ArrayList<>());
        fs.watchForces(file -> {
            if (file.equals(image) && probes.isEmpty()) {
                Thread probe = Thread.ofVirtual().start(() -> {
                    try {
                        bitmaps.add("during-store", GRANULARITY, true, true, false);
                        bitmaps.remove("old", false);
                        probes.add(bitmaps.list().stream().map(BitmapInfo::name).toList() + " "
                                + bitmaps.get("during-store").dirtyBytes());
                    } catch (Exception e) {
                        probes.add(e.toString());
                    }
                });
                joinUninterruptibly(probe);
            }
        });
        bitmaps.checkpointToImage();
        fs.watchForces(file -> { });
        assertEquals(List.of("[during-store] 0"), probes, "the checkpoint was created while the store synced");
        disk.node().write(1L << 20, ByteBuffer.allocate(64 << 10), WriteFlag.NONE);
        bitmaps.checkpointToImage();
        disk.close();
        ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
        assertEquals(0, check.exitCode(), "no cluster leaked or doubly referenced: " + check.output());
        String info = ExternalTools.ok("qemu-img", "info", image.toString());
        assertTrue(info.contains("name: during-store"), info);
        assertFalse(info.contains("name: old"), info);
    }

    /**
     * Every sync of an image the guest writes hard stalls its writes in the kernel for a while,
     * so a store syncs no more than its order needs: when the guest's mapping did not change
     * (writes in place, the common case of a running VM), one sync for the new bitmap clusters
     * and their refcounts and one for the header.
     */
    @Test
    void aStoreOfADiskWhoseMappingDidNotChangeSyncsTheImageTwice() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = dir.resolve("in-place.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        ExternalTools.ok("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 4M", image.toString());
        ExternalTools.ok("qemu-img", "bitmap", "--add", "-g", "64K", image.toString(), "c1");
        PowerLossFileSystem fs = new PowerLossFileSystem();
        try (BitmapDisk disk = BitmapDisk.open(fs.wrap(image), false)) {
            disk.bitmaps().checkpointToImage();
            disk.node().write(64 << 10, ByteBuffer.allocate(4096), WriteFlag.NONE);
            List<Path> syncs = Collections.synchronizedList(new ArrayList<>());
            fs.watchForces(file -> {
                if (file.equals(image)) {
                    syncs.add(file);
                }
            });
            disk.bitmaps().checkpointToImage();
            fs.watchForces(file -> { });
            assertEquals(2, syncs.size(), "syncs of the image in a store of an unchanged mapping");
        }
        ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
        assertEquals(0, check.exitCode(), check.output());
    }

    /** A removal whose store fails leaves the bitmap where it was: checkpoints are in directory order. */
    @Test
    void aRemovalWhoseStoreFailsKeepsTheBitmapInItsPlace() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = dir.resolve("order.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        PowerLossFileSystem fs = new PowerLossFileSystem();
        try (BitmapDisk disk = BitmapDisk.open(fs.wrap(image), false)) {
            PersistentBitmaps bitmaps = disk.bitmaps();
            for (String name : List.of("a", "b", "c")) {
                bitmaps.add(name, GRANULARITY, name.equals("c"), true);
            }
            fs.failForces(file -> file.equals(image));
            assertThrows(BlockIOException.class, () -> bitmaps.remove("b"));
            fs.failForces(file -> false);
            assertEquals(List.of("a", "b", "c"), bitmaps.list().stream().map(BitmapInfo::name).toList());
            bitmaps.remove("b");
            assertEquals(List.of("a", "c"), bitmaps.list().stream().map(BitmapInfo::name).toList());
        }
        ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
        assertTrue(check.exitCode() == 0 || check.exitCode() == 3, "at worst leaked clusters: " + check.output());
    }

    private static void joinUninterruptibly(Thread thread) {
        boolean interrupted = false;
        while (true) {
            try {
                thread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Test
    void aJobsCheckpointNeverSyncsTheImage() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = dir.resolve("new.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        PowerLossFileSystem fs = new PowerLossFileSystem();
        ActiveDisk disk = DiskOpener.open(DiskSpec.of("vm", fs.wrap(image), ImageOpener.Format.QCOW2));
        CheckpointSet checkpoints = disk.checkpoints();
        List<Path> imageSyncs = Collections.synchronizedList(new ArrayList<>());
        fs.watchForces(file -> {
            if (file.equals(image)) {
                imageSyncs.add(file);
            }
        });

        CheckpointStart start = checkpoints.begin("c1", BackupBase.full());
        checkpoints.end(start, BackupOutcome.SUCCESS);
        assertEquals(List.of(), imageSyncs, "a job's start and finish journal the checkpoint, never sync the image");
        fs.watchForces(file -> { });
        // what a kill -9 now would leave: the journal holds c1, and the next open recovers it
        Path copy = Files.createDirectory(dir.resolve("crashed")).resolve(image.getFileName());
        Files.copy(image, copy);
        List<Path> from = DiskSidecars.of(image);
        List<Path> to = DiskSidecars.of(copy);
        for (int i = 0; i < from.size(); i++) {
            if (Files.exists(from.get(i))) {
                Files.copy(from.get(i), to.get(i));
            }
        }
        disk.close();
        ActiveDisk recovered = DiskOpener.open(DiskSpec.of("vm", copy, ImageOpener.Format.QCOW2));
        try {
            assertEquals(List.of("c1"), recovered.checkpoints().list().stream().map(CheckpointInfo::name).toList());
        } finally {
            recovered.close();
        }
    }
}
