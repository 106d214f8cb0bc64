package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.awaitility.Awaitility;
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
import org.fleeced.disk.KillCopy;
import org.fleeced.disk.DiskSpec;
import org.fleeced.qcow2.ImageOpener;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A crash at any moment between checkpoint transitions, guest writes and background stores
 * loses no acknowledged checkpoint and no acknowledged change, on a qcow2 disk and on a raw one
 * (whose bitmaps live in a sidecar). The crash is a copy of the image and its sidecars taken
 * between two calls: exactly what {@code kill -9} leaves (the page cache survives a killed
 * process). Each copy is opened like after a crash and compared with a {@link CheckpointModel}:
 * an incremental from each checkpoint reads every acknowledged change since it. Then
 * {@code qemu-img check} must find no corruption in a qcow2 image.
 * <pre>
 *   random ops ──▶ CheckpointSet ──▶ Qcow2CheckpointStore ──▶ PersistentBitmaps ──▶ disk.qcow2
 *        │              │                                            └──▶ disk.qcow2.fleeced-intent
 *        │              ├──▶ (raw) SidecarBitmaps ──▶ disk.raw.fleeced-bitmaps, disk.raw.fleeced-intent
 *        │              └──▶ disk.FORMAT.fleeced-journal
 *        └── at random points: copy the files = kill -9; recover the copy; compare with the model
 *            (background stores of the qcow2 bitmaps go on with the guest flushes among the ops)
 * </pre>
 */
class CheckpointJournalCrashTest {
    private static final long SIZE = 32L << 20;
    private static final long G = 64 << 10;
    private static final int ROUNDS = Integer.getInteger("fleeced.crashRounds", 20);
    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(ImageOpener.Format.class)
    void everyAcknowledgedCheckpointAndChangeSurvivesACrashAtAnyPoint(ImageOpener.Format format) throws Exception {
        ExternalTools.assume("qemu-img");
        long seed = Long.getLong("fleeced.crashSeed", System.nanoTime());
        Random random = new Random(seed);
        for (int round = 0; round < ROUNDS; round++) {
            runRound(format, random, round, format + ", seed " + seed + ", round " + round);
        }
    }

    @ParameterizedTest
    @EnumSource(ImageOpener.Format.class)
    void aCommittedIncrementalSurvivesAKillRightAfterItsFinish(ImageOpener.Format format) throws Exception {
        ExternalTools.assume("qemu-img");
        Path image = newImage(format, "named");
        CheckpointModel model = new CheckpointModel(SIZE, G);
        try (Disk disk = Disk.open(image)) {
            disk.write(0, 1 << 20, model);
            disk.set.end(disk.set.begin("a", BackupBase.full()), BackupOutcome.SUCCESS);
            model.create("a", false);
            disk.write(4 << 20, 1 << 20, model);
            disk.set.end(disk.set.begin("b", BackupBase.differentialFrom("a")), BackupOutcome.SUCCESS);
            model.create("b", false);
            disk.write(9 << 20, 4096, model);
            Path crashed = KillCopy.of(image, dir.resolve("named"));
            try (Disk after = Disk.open(crashed)) {
                after.assertMatches(model, "kill right after b's finish");
                CheckpointStart next = after.set.begin("c", BackupBase.differentialFrom("b"));
                assertTrue(next.changes().get(9 << 20), "an incremental from b reads the write after it");
            }
        }
    }

    private void runRound(ImageOpener.Format format, Random random, int round, String context) throws Exception {
        Path image = newImage(format, "disk" + round);
        CheckpointModel model = new CheckpointModel(SIZE, G);
        List<CheckpointStart> running = new ArrayList<>();
        int crashes = 0;
        try (Disk disk = Disk.open(image)) {
            for (int i = 0; i < 60; i++) {
                step(disk, model, running, random, round + "-" + i);
                if (random.nextInt(20) == 0 || i == 59) {
                    disk.settle();
                    Path crashed = KillCopy.of(image, dir.resolve("crash" + round + "-" + crashes++));
                    try (Disk after = Disk.open(crashed)) {
                        after.assertMatches(model.afterCrash(), context + ", crash after op " + i);
                    }
                    if (format == ImageOpener.Format.QCOW2) {
                        ExternalTools.Result check = ExternalTools.run("qemu-img", "check", crashed.toString());
                        assertTrue(check.exitCode() == 0 || check.exitCode() == 3, context + ": qemu-img check\n" + check.output());
                    }
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
        } else if (op < 19) {
            disk.disk.storeBitmaps();
        } else {
            // a guest flush: the sync a background store of a qcow2 image waits for to go on
            disk.disk.exportNode().flush();
        }
    }

    private Path newImage(ImageOpener.Format format, String name) throws Exception {
        Path image = dir.resolve(name + "." + format.name().toLowerCase(Locale.ROOT));
        if (format == ImageOpener.Format.QCOW2) {
            ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        } else {
            try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
                file.setLength(SIZE);
            }
        }
        return image;
    }

    /** A disk with its checkpoints, as the daemon opens one ({@link DiskOpener}); the format by the file's name. */
    private record Disk(ActiveDisk disk, CheckpointSet set) implements AutoCloseable {
        static Disk open(Path image) throws Exception {
            ImageOpener.Format format = image.toString().endsWith(".raw") ? ImageOpener.Format.RAW : ImageOpener.Format.QCOW2;
            ActiveDisk disk = DiskOpener.open(DiskSpec.of("vda", image, format)
                    .withBitmapOptions(BitmapPersistenceOptions.defaults().withRegionBits(20).withCheckpointAfterRegions(0)));
            return new Disk(disk, disk.checkpoints());
        }

        /**
         * Waits until no step of a background store can run (one may have been started by a sync
         * just now): a copy of the files taken while a step runs could mix states no kill leaves.
         */
        void settle() {
            disk.persistentBitmaps().ifPresent(bitmaps ->
                    Awaitility.await().forever().until(bitmaps::backgroundStoreSettled));
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
                CheckpointStart since = set.begin(null, BackupBase.differentialFrom(info.name()));
                assertEquals(List.of(), expected.missingSince(info.name(), since.changes()),
                        context + ": acknowledged changes since " + info.name() + " missing from an incremental from it");
            }
        }

        @Override
        public void close() throws BlockIOException {
            disk.close();
        }
    }
}
