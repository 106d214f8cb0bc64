package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.fleeced.block.WriteFlag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoint transitions that do not store (a job's start adds, a failure removes) run while a
 * background store copies, writes and syncs the bitmaps, since they no longer wait for it. Seeded
 * rounds race a thread that stores in a loop against one that adds, removes and writes: at the
 * clean close the image holds exactly the bitmaps the model holds, and every table a store
 * replaced or a removal orphaned was freed once (qemu-img check: no leak, no double reference).
 */
class StoreRacingTransitionsTest {
    private static final long SIZE = 32L << 20;
    @TempDir
    Path dir;

    @Test
    void transitionsDuringStoresLeaveExactlyTheModelsBitmaps() throws Exception {
        ExternalTools.assume("qemu-img");
        for (long seed = 1; seed <= 6; seed++) {
            Path image = dir.resolve("race-" + seed + ".qcow2");
            ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
            TreeSet<String> model = race(image, new Random(seed));
            ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
            assertEquals(0, check.exitCode(), "seed " + seed + ": " + check.output());
            List<String> names = new ArrayList<>();
            for (String line : ExternalTools.ok("qemu-img", "info", image.toString()).split("\n")) {
                if (line.trim().startsWith("name: ")) {
                    names.add(line.trim().substring("name: ".length()));
                }
            }
            assertEquals(model, new TreeSet<>(names), "seed " + seed);
        }
    }

    private static TreeSet<String> race(Path image, Random random) throws Exception {
        TreeSet<String> model = new TreeSet<>();
        try (BitmapDisk disk = BitmapDisk.open(image, false)) {
            PersistentBitmaps bitmaps = disk.bitmaps();
            AtomicBoolean done = new AtomicBoolean();
            AtomicReference<Throwable> storeFailure = new AtomicReference<>();
            Thread stores = Thread.ofPlatform().start(() -> {
                try {
                    while (!done.get()) {
                        bitmaps.checkpointToImage();
                    }
                } catch (Throwable t) {
                    storeFailure.set(t);
                }
            });
            ByteBuffer data = ByteBuffer.allocate(64 << 10);
            for (int step = 0; step < 120; step++) {
                int op = random.nextInt(3);
                if (op == 0 || model.isEmpty()) {
                    String name = "c" + step;
                    bitmaps.add(name, 1 << 16, true, true, false);
                    model.add(name);
                } else if (op == 1) {
                    String name = new ArrayList<>(model).get(random.nextInt(model.size()));
                    bitmaps.remove(name, false);
                    model.remove(name);
                } else {
                    disk.node().write((long) random.nextInt((int) (SIZE >> 16)) << 16, data.clear(), WriteFlag.NONE);
                }
            }
            done.set(true);
            stores.join();
            if (storeFailure.get() != null) {
                throw new AssertionError("a store failed", storeFailure.get());
            }
        }
        return model;
    }
}
