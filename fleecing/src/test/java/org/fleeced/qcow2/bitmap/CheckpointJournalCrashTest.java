package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.WriteFlag;
import org.fleeced.checkpoint.BackupBase;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.checkpoint.CheckpointInfo;
import org.fleeced.checkpoint.CheckpointSet;
import org.fleeced.checkpoint.CheckpointStart;
import org.fleeced.checkpoint.CheckpointState;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.disk.DiskSidecars;
import org.fleeced.disk.DiskSpec;
import org.fleeced.qcow2.ImageOpener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A crash at any moment between checkpoint transitions, guest writes and background stores
 * loses no acknowledged checkpoint and no acknowledged change. The crash is a copy of the image
 * and its sidecars taken between two calls: exactly what {@code kill -9} leaves (the page cache
 * survives a killed process). Each copy is opened like after a crash and compared with a
 * {@link CheckpointModel}; then {@code qemu-img check} must find no corruption.
 * <pre>
 *   random ops ──▶ CheckpointSet ──▶ Qcow2CheckpointStore ──▶ PersistentBitmaps ──▶ disk.qcow2
 *        │              └──▶ disk.qcow2.fleeced-journal            └──▶ disk.qcow2.fleeced-intent
 *        └── at random points: copy the three files = kill -9; recover the copy; compare with the model
 * </pre>
 */
class CheckpointJournalCrashTest {
    private static final long SIZE = 32L << 20;
    private static final long G = 64 << 10;
    private static final int ROUNDS = Integer.getInteger("fleeced.crashRounds", 20);
    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedCheckpointAndChangeSurvivesACrashAtAnyPoint() throws Exception {
        ExternalTools.assume("qemu-img");
        long seed = Long.getLong("fleeced.crashSeed", System.nanoTime());
        Random random = new Random(seed);
        for (int round = 0; round < ROUNDS; round++) {
            runRound(random, round, "seed " + seed + ", round " + round);
        }
    }

    @Test
    void aCommittedIncrementalSurvivesAKillRightAfterItsFinish() throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = newImage("named.qcow2");
        CheckpointModel model = new CheckpointModel(SIZE, G);
        try (Disk disk = Disk.open(image)) {
            disk.write(0, 1 << 20, model);
            disk.set.end(disk.set.begin("a", BackupBase.full()), BackupOutcome.SUCCESS);
            model.create("a", false);
            disk.write(4 << 20, 1 << 20, model);
            disk.set.end(disk.set.begin("b", BackupBase.differentialFrom("a")), BackupOutcome.SUCCESS);
            model.create("b", false);
            disk.write(9 << 20, 4096, model);
            Path crashed = crashCopy(image, "named");
            try (Disk after = Disk.open(crashed)) {
                after.assertMatches(model, "kill right after b's finish");
                CheckpointStart next = after.set.begin("c", BackupBase.differentialFrom("b"));
                assertTrue(next.changes().get(9 << 20), "an incremental from b reads the write after it");
            }
        }
    }

    private void runRound(Random random, int round, String context) throws Exception {
        Path image = newImage("disk" + round + ".qcow2");
        CheckpointModel model = new CheckpointModel(SIZE, G);
        List<CheckpointStart> running = new ArrayList<>();
        int crashes = 0;
        try (Disk disk = Disk.open(image)) {
            for (int i = 0; i < 60; i++) {
                step(disk, model, running, random, round + "-" + i);
                if (random.nextInt(20) == 0 || i == 59) {
                    Path crashed = crashCopy(image, "crash" + round + "-" + crashes++);
                    try (Disk after = Disk.open(crashed)) {
                        after.assertMatches(model.afterCrash(), context + ", crash after op " + i);
                    }
                    ExternalTools.Result check = ExternalTools.run("qemu-img", "check", crashed.toString());
                    assertTrue(check.exitCode() == 0 || check.exitCode() == 3, context + ": qemu-img check\n" + check.output());
                }
            }
        }
    }

    /** One random operation, applied to the disk and (once acknowledged) to the model. */
    private static void step(Disk disk, CheckpointModel model, List<CheckpointStart> running, Random random, String id)
            throws Exception {
        int op = random.nextInt(20);
        List<String> names = model.names();
        if (op < 9) {
            long offset = random.nextLong(SIZE) & ~511L;
            disk.write(offset, (int) Math.min(SIZE - offset, 512 * (1 + random.nextInt(300))), model);
        } else if (op < 11 && running.isEmpty()) {
            BackupBase base = names.isEmpty() || random.nextBoolean() ? BackupBase.full()
                    : BackupBase.differentialFrom(names.get(random.nextInt(names.size())));
            String name = random.nextInt(4) == 0 && !names.isEmpty() ? "retry" : "j" + id;
            if (model.find(name) != null) {
                return;
            }
            running.add(disk.set.begin(name, base));
            model.create(name, true);
        } else if (op < 13 && !running.isEmpty()) {
            CheckpointStart job = running.removeFirst();
            boolean ok = random.nextBoolean();
            disk.set.end(job, ok ? BackupOutcome.SUCCESS : BackupOutcome.FAILURE);
            if (ok) {
                model.find(job.created()).pending = false;
            } else {
                model.remove(job.created());
            }
        } else if (op < 14) {
            String name = random.nextBoolean() && !names.isEmpty() ? names.get(random.nextInt(names.size())) : "api" + id;
            if (model.find(name) == null) {
                disk.set.create(name);
                model.create(name, false);
            }
        } else if (op < 15 && running.isEmpty() && !names.isEmpty()) {
            String name = names.get(random.nextInt(names.size()));
            disk.set.remove(name);
            model.remove(name);
        } else if (op < 16 && running.isEmpty() && !names.isEmpty()) {
            String name = names.get(random.nextInt(names.size()));
            disk.set.clear(name);
            model.find(name).changes.clear();
        } else if (op < 17 && running.isEmpty() && names.size() > 1) {
            String target = names.get(random.nextInt(names.size()));
            String source = names.get(random.nextInt(names.size()));
            disk.set.merge(target, List.of(source));
            model.find(target).changes.addAll(model.find(source).changes);
        } else if (op < 18 && running.isEmpty() && !names.isEmpty()) {
            boolean enable = random.nextBoolean();
            disk.set.setEnabled(names.getLast(), enable);
            model.newestRecords = enable;
        } else {
            disk.bitmaps.checkpointToImage();
        }
    }

    private Path newImage(String name) throws Exception {
        Path image = dir.resolve(name);
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        return image;
    }

    /** What kill -9 leaves of a process that has the image open: its files as they are now. */
    private Path crashCopy(Path image, String name) throws Exception {
        Path target = Files.createDirectory(dir.resolve(name)).resolve(image.getFileName());
        Files.copy(image, target);
        List<Path> from = DiskSidecars.of(image);
        List<Path> to = DiskSidecars.of(target);
        for (int i = 0; i < from.size(); i++) {
            if (Files.exists(from.get(i))) {
                Files.copy(from.get(i), to.get(i), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return target;
    }

    /** A qcow2 disk with its checkpoints, as the daemon opens one ({@link DiskOpener}). */
    private record Disk(ActiveDisk disk, PersistentBitmaps bitmaps, CheckpointSet set) implements AutoCloseable {
        static Disk open(Path image) throws Exception {
            ActiveDisk disk = DiskOpener.open(DiskSpec.of("vda", image, ImageOpener.Format.QCOW2)
                    .withBitmapOptions(BitmapPersistenceOptions.defaults().withRegionBits(20).withCheckpointAfterRegions(0)));
            return new Disk(disk, disk.persistentBitmaps().orElseThrow(), disk.checkpoints());
        }

        void write(long offset, int length, CheckpointModel model) throws Exception {
            disk.exportNode().write(offset, ByteBuffer.allocate(length), WriteFlag.NONE);
            model.write(offset, length);
        }

        void assertMatches(CheckpointModel expected, String context) throws Exception {
            List<CheckpointInfo> infos = set.list();
            assertEquals(expected.names(), infos.stream().map(CheckpointInfo::name).toList(),
                    context + ": the checkpoints after recovery");
            for (CheckpointInfo info : infos) {
                assertEquals(CheckpointState.RECOVERED, info.state(), context + ": " + info);
                assertEquals(List.of(), expected.missing(info.name(), bitmaps.get(info.name())),
                        context + ": acknowledged changes missing from " + info.name());
            }
        }

        @Override
        public void close() throws BlockIOException {
            disk.close();
        }
    }
}
