package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.awaitility.Awaitility;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.disk.DiskSpec;
import org.fleeced.disk.KillCopy;
import org.fleeced.qcow2.ImageOpener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12 point 2: a background store of the bitmaps (the daemon's timer, a flush after many
 * marked regions) issues no sync of the image, whose every sync stalls a hard-writing guest in
 * the kernel. It rides on the guest's own flushes: the new bitmap clusters are written at once,
 * the header is pointed at them after the next sync of the image, and the old clusters are freed
 * (the journal compacted, the intent epoch retired) after the one after that. At every instant a
 * power loss leaves the old or the new directory, qemu-img check clean apart from leaks, and
 * every acknowledged change in the recovered bitmaps.
 * <pre>
 *   writes ──▶ PersistentBitmaps.storeInBackground ──▶ stage (no sync)
 *   flush  ──▶ qcow2 sync ──▶ header (no sync)  ──▶ flush ──▶ qcow2 sync ──▶ old clusters freed
 *                     └─ PowerLossFileSystem: power lost after 0, 1 or 2 guest flushes
 * </pre>
 */
class BackgroundStoreTest {
    private static final long SIZE = 32L << 20;
    private static final long GRANULARITY = 1 << 16;
    @TempDir
    Path dir;

    /**
     * Every sync of the image while a background store runs comes from a guest flush; the store
     * still ends (the bitmap it added is in the image a kill -9 leaves), after two flushes at most.
     */
    @Test
    void aBackgroundStoreIssuesNoSyncOfTheImageAndEndsOnTheGuestsFlushes() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = newImage("quiet");
        PowerLossFileSystem fs = new PowerLossFileSystem();
        BitmapDisk disk = BitmapDisk.open(fs.wrap(image), false);
        PersistentBitmaps bitmaps = disk.bitmaps();
        BlockNode node = disk.node();
        node.write(0, ByteBuffer.allocate(1 << 20), WriteFlag.NONE);
        node.flush();
        boolean[] inGuestFlush = new boolean[1];
        Thread guest = Thread.currentThread();
        List<String> storeSyncs = Collections.synchronizedList(new ArrayList<>());
        fs.watchForces(file -> {
            if (file.equals(image) && !(Thread.currentThread() == guest && inGuestFlush[0])) {
                storeSyncs.add(Thread.currentThread().getName());
            }
        });
        bitmaps.add("new", GRANULARITY, true, true, false);
        node.write(4L << 20, ByteBuffer.allocate(64 << 10), WriteFlag.NONE);
        bitmaps.storeInBackground();
        assertEquals(BitmapStore.Step.WRITTEN, bitmaps.pendingStep(), "the store waits for a sync of the image");
        assertFalse(imageAsKillLeavesIt(image, "before-flush").contains("name: new"), "no header write before a sync");
        int flushes = 0;
        while (bitmaps.pendingStep() != null) {
            BitmapStore.Step before = bitmaps.pendingStep();
            node.write(8L << 20, ByteBuffer.allocate(4096), WriteFlag.NONE);
            inGuestFlush[0] = true;
            node.flush();
            inGuestFlush[0] = false;
            flushes++;
            Awaitility.await().forever().until(() -> bitmaps.pendingStep() != before);
        }
        fs.watchForces(file -> { });
        assertEquals(List.of(), storeSyncs, "syncs of the image the store issued itself");
        // a guest flush syncs the image more than once (data, then metadata): one may cover both steps
        assertTrue(flushes <= 2, "guest flushes the store waited for: " + flushes);
        assertTrue(imageAsKillLeavesIt(image, "after-flushes").contains("name: new"), "the store reached the image");
        disk.close();
        ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
        assertEquals(0, check.exitCode(), "nothing leaked: " + check.output());
    }

    /** A guest that never flushes: the next trigger after the wait ends the store with syncs of its own. */
    @Test
    void aStoreThatWaitedTooLongForTheGuestSyncsTheImageItself() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = newImage("never-flushes");
        try (BitmapDisk disk = BitmapDisk.open(image, false,
                BitmapPersistenceOptions.defaults().withGuestSyncWaitMillis(0))) {
            disk.bitmaps().add("new", GRANULARITY, true, true, false);
            disk.node().write(0, ByteBuffer.allocate(64 << 10), WriteFlag.NONE);
            disk.bitmaps().storeInBackground();
            assertEquals(BitmapStore.Step.WRITTEN, disk.bitmaps().pendingStep());
            disk.bitmaps().storeInBackground();
            assertNull(disk.bitmaps().pendingStep(), "the second trigger ended the store");
            assertTrue(imageAsKillLeavesIt(image, "synced").contains("name: new"));
        }
        ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
        assertEquals(0, check.exitCode(), check.output());
    }

    /** The clean close ends a store still waiting for a sync: the image holds every bitmap. */
    @Test
    void theCleanCloseEndsAWaitingStore() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = newImage("closed");
        try (BitmapDisk disk = BitmapDisk.open(image, false)) {
            disk.bitmaps().add("waiting", GRANULARITY, true, true, false);
            disk.node().write(0, ByteBuffer.allocate(64 << 10), WriteFlag.NONE);
            disk.bitmaps().storeInBackground();
            disk.bitmaps().add("after", GRANULARITY, true, true, false);
        }
        ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
        assertEquals(0, check.exitCode(), check.output());
        String info = ExternalTools.ok("qemu-img", "info", image.toString());
        assertTrue(info.contains("name: waiting") && info.contains("name: after"), info);
        assertFalse(info.contains("in-use"), info);
    }

    /**
     * A power loss after 0, 1 or 2 guest flushes of a background store, losing a random part of
     * every write not synced: with none the old directory is in force (the bitmap added for this
     * store is not in the image), after two the new one (it is), after one either; qemu-img check
     * finds leaks at worst, and every change acknowledged before the loss is in the recovered
     * bitmaps.
     */
    @Test
    void aPowerLossBetweenTheStepsLeavesTheOldOrTheNewDirectory() throws Exception {
        ExternalTools.assume("qemu-img");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        for (int round = 0; round < 12; round++) {
            int flushes = round % 3;
            String context = "seed " + seed + ", round " + round + ", " + flushes + " guest flushes";
            Path image = newImage("loss" + round);
            ClusterRuns acked = new ClusterRuns(SIZE, GRANULARITY);
            PowerLossFileSystem fs = new PowerLossFileSystem();
            BitmapDisk disk = BitmapDisk.open(fs.wrap(image), false,
                    BitmapPersistenceOptions.defaults().withRegionBits(20).withCheckpointAfterRegions(0));
            PersistentBitmaps bitmaps = disk.bitmaps();
            BlockNode node = disk.node();
            writeSome(node, random, acked);
            bitmaps.checkpointToImage();
            writeSome(node, random, acked);
            bitmaps.add("staged", GRANULARITY, true, true, false);
            List<Path> imageSyncs = Collections.synchronizedList(new ArrayList<>());
            fs.watchForces(file -> {
                if (file.equals(image)) {
                    imageSyncs.add(file);
                }
            });
            bitmaps.storeInBackground();
            writeSome(node, random, acked);
            for (int f = 0; f < flushes; f++) {
                BitmapStore.Step before = bitmaps.pendingStep();
                node.flush();
                if (before != null) {
                    Awaitility.await().forever().until(() -> bitmaps.pendingStep() != before);
                }
                writeSome(node, random, acked);
            }
            fs.powerLoss(random, random.nextDouble());

            ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
            assertTrue(check.exitCode() == 0 || check.exitCode() == 3, context + ": qemu-img check\n" + check.output());
            String info = ExternalTools.ok("qemu-img", "info", image.toString());
            if (flushes == 0 && imageSyncs.isEmpty()) {
                assertFalse(info.contains("name: staged"), context + ": the header changed before a sync\n" + info);
            } else if (flushes == 2) {
                assertTrue(info.contains("name: staged"), context + ": the store is not durable after two syncs\n" + info);
            }
            try (BitmapDisk after = BitmapDisk.open(image, true)) {
                BitmapInfo base = after.bitmaps().list().stream().filter(i -> i.name().equals("base")).findFirst().orElse(null);
                assertNotNull(base, context);
                assertEquals(BitmapState.RECOVERED, base.state(), context);
                assertEquals(List.of(), acked.missingFrom(after.bitmaps().get("base")), context + ": acknowledged changes missing");
            }
        }
    }

    /**
     * A raw disk's store (the daemon's timer) writes its bitmap sidecar, the journal and the
     * intent log, each synced on its own, and never syncs the raw image the guest writes.
     */
    @Test
    void aRawDisksStoreNeverSyncsTheImage() throws Exception {
        Path image = dir.resolve("vm.raw");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(SIZE);
        }
        PowerLossFileSystem fs = new PowerLossFileSystem();
        ActiveDisk disk = DiskOpener.open(DiskSpec.of("vm", fs.wrap(image), ImageOpener.Format.RAW));
        try {
            disk.checkpoints().create("a");
            disk.exportNode().write(1L << 20, ByteBuffer.allocate(64 << 10), WriteFlag.NONE);
            List<Path> syncs = Collections.synchronizedList(new ArrayList<>());
            fs.watchForces(syncs::add);
            disk.storeBitmaps();
            fs.watchForces(file -> { });
            assertTrue(syncs.stream().anyMatch(p -> p.getFileName().toString().startsWith("vm.raw.fleeced-bitmaps")),
                    "the store synced the bitmap sidecar: " + syncs);
            assertFalse(syncs.contains(image), "the store synced the raw image: " + syncs);
        } finally {
            disk.close();
        }
    }

    private static void writeSome(BlockNode node, Random random, ClusterRuns acked) throws Exception {
        ByteBuffer data = ByteBuffer.allocate(128 << 10);
        for (int i = 0; i < 8; i++) {
            long offset = random.nextLong(SIZE) & ~511L;
            int length = (int) Math.min(SIZE - offset, 512 * (1 + random.nextInt(256)));
            random.nextBytes(data.array());
            node.write(offset, data.clear().limit(length), WriteFlag.NONE);
            acked.add(offset, length);
        }
    }

    private Path newImage(String name) throws Exception {
        Path image = dir.resolve(name + ".qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        ExternalTools.ok("qemu-img", "bitmap", "--add", "-g", "64K", image.toString(), "base");
        return image;
    }

    /** qemu-img info of what a kill -9 would leave of {@code image} now. */
    private String imageAsKillLeavesIt(Path image, String name) throws Exception {
        Path copy = KillCopy.of(image, dir.resolve("kill-" + name));
        return ExternalTools.ok("qemu-img", "info", "-U", copy.toString());
    }
}
