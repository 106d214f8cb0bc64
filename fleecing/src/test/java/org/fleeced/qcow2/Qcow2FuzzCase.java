package org.fleeced.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.qcow2.bitmap.BitmapDisk;

/**
 * One fuzz case, reproducible from its seed alone (given the same base images): pick a base,
 * mutate it, then open it the way the daemon does ({@link BitmapDisk}, through the disk factory, or
 * {@link ImageOpener} for a plain read-only open), first read-only, then read-write, and run
 * seeded reads, block status queries, writes, zero writes, discards, flushes and bitmap
 * operations, each through {@link Qcow2FuzzOperations}.
 *
 * <p>Invariants checked here (the caller adds the time limit and the allocation bound):
 * <ul>
 *   <li>every failure is a {@link BlockIOException}: anything else thrown escapes {@link #run}
 *       and fails the case (the caller reports it with {@link #describe});</li>
 *   <li>a read-only open changes no byte of the image;</li>
 *   <li>no file beside the image changes (backing files, a guard image), and no new file
 *       appears there but the intent log sidecar;</li>
 *   <li>the image grows by no more than a bound proportional to what was written;</li>
 *   <li>no write lands on the image's own metadata: a cluster that holds data and metadata at
 *       once after the read-write open did so before it ({@link Qcow2MetadataOverlaps});</li>
 *   <li>after a read-write open, the header still starts with the qcow2 magic, and it has the
 *       corrupt bit (version 3) when an operation found damage;</li>
 *   <li>a data-path failure is EIO from damage: a {@link CorruptionException}, then the refusal
 *       of an image marked corrupt, and no write succeeds after that (see
 *       {@link Qcow2FuzzOperations});</li>
 *   <li>a control case (no mutation: a valid image) has no failure at all, reads what it wrote,
 *       and passes {@code qemu-img check} after its read-write open.</li>
 * </ul>
 */
final class Qcow2FuzzCase {
    /** Extra growth allowed per operation, in clusters: L2 tables, refcount blocks and tables, bitmap tables. */
    private static final long GROWTH_CLUSTERS_PER_OPERATION = 8;

    /** What a case did: whether each open succeeded, and how many operations failed cleanly. */
    record Outcome(boolean control, boolean openedReadOnly, boolean openedReadWrite, int failedOperations,
                   long allocatedBytes, long fileBytes) {
    }

    private final Qcow2BaseImages images;
    private final long seed;
    private final Random random;
    /** The last operations and refusals, for the failure report. */
    private final Deque<String> trail = new ArrayDeque<>();
    private Qcow2Mutation mutation;
    private Qcow2BaseImages.Base base;

    Qcow2FuzzCase(Qcow2BaseImages images, long seed) {
        this.images = images;
        this.seed = seed;
        this.random = new Random(seed);
    }

    /** Runs the case; an invariant broken is an AssertionError, an unexpected exception escapes as is. */
    Outcome run() throws IOException {
        base = images.bases().get(random.nextInt(images.bases().size()));
        mutation = Qcow2Mutator.mutate(base, random);
        boolean control = mutation.steps().isEmpty();
        Path image = images.casePath();
        removeCaseFiles();
        Files.write(image, mutation.bytes());
        Qcow2BaseImages.FileStamp written = Qcow2BaseImages.FileStamp.of(image);
        long allocatedBefore = Qcow2FuzzAllocation.currentThreadBytes();

        Qcow2FuzzOperations ro = new Qcow2FuzzOperations(random, trail, control);
        boolean openedRo = readOnlyPhase(image, ro);
        check(written.equals(Qcow2BaseImages.FileStamp.of(image)), "a read-only open changed the image");

        Qcow2MetadataOverlaps.Scan overlapsBefore = Qcow2MetadataOverlaps.of(mutation.bytes());
        Qcow2FuzzOperations rw = new Qcow2FuzzOperations(random, trail, control);
        boolean openedRw = readWritePhase(image, rw);
        checkNoNewOverlap(image, overlapsBefore);

        long allocated = Qcow2FuzzAllocation.currentThreadBytes() - allocatedBefore;
        checkSurroundings(image, openedRw, rw);
        if (control) {
            check(openedRo && openedRw, "a valid image was refused");
            Qcow2FuzzOperations.assertQemuCheckClean(image);
        }
        return new Outcome(control, openedRo, openedRw, ro.failures() + rw.failures(), allocated, mutation.bytes().length);
    }

    private boolean readOnlyPhase(Path image, Qcow2FuzzOperations ops) {
        if (random.nextBoolean()) {
            BlockNode node = ops.open("ImageOpener read-only", () -> ImageOpener.open(image, ImageOpener.Format.QCOW2, true));
            if (node == null) {
                return false;
            }
            ops.exercise(node, null, false);
            ops.close(node::close);
            return true;
        }
        BitmapDisk disk = ops.open("PersistentBitmaps read-only", () -> BitmapDisk.open(image, true));
        if (disk == null) {
            return false;
        }
        ops.exercise(disk.node(), disk.bitmaps(), false);
        ops.close(disk::close);
        return true;
    }

    /**
     * Opens read-write as the daemon does and runs operations, one after another or (one case in
     * four) from several threads at once; then, one case in three, opens again, since what the
     * driver wrote into a damaged image is the next open's input.
     */
    private boolean readWritePhase(Path image, Qcow2FuzzOperations ops) {
        BitmapDisk disk = ops.open("PersistentBitmaps read-write", () -> BitmapDisk.open(image, false));
        if (disk == null) {
            return false;
        }
        if (random.nextInt(4) == 0) {
            ops.exerciseConcurrently(disk.node(), disk.bitmaps(), 2 + random.nextInt(3));
        } else {
            ops.exercise(disk.node(), disk.bitmaps(), true);
        }
        ops.close(disk::close);
        if (random.nextInt(3) == 0) {
            BitmapDisk again = ops.open("PersistentBitmaps read-write again", () -> BitmapDisk.open(image, false));
            if (again != null) {
                ops.exercise(again.node(), again.bitmaps(), true);
                ops.close(again::close);
            }
        }
        return true;
    }

    private void checkSurroundings(Path image, boolean openedRw, Qcow2FuzzOperations rw) throws IOException {
        for (Map.Entry<Path, Qcow2BaseImages.FileStamp> e : images.protectedFiles().entrySet()) {
            check(e.getValue().equals(Qcow2BaseImages.FileStamp.of(e.getKey())), e.getKey().getFileName() + " changed");
        }
        Set<Path> allowed = new java.util.HashSet<>(images.protectedFiles().keySet());
        allowed.add(image);
        allowed.add(sidecar());
        try (Stream<Path> files = Files.list(images.dir())) {
            for (Path p : files.toList()) {
                check(allowed.contains(p), "a file appeared beside the image: " + p.getFileName());
            }
        }
        long size = Files.size(image);
        long cluster = Math.max(rw.clusterBytes(), mutation.clusterSize());
        // A damaged refcount block may count clusters past the file: allocation rightly starts past them.
        long start = Math.max(mutation.bytes().length, Qcow2ImageMap.countedEnd(mutation.bytes()));
        long bound = 2L * start + 4 * rw.writtenBytes()
                + (rw.operations() + 16) * GROWTH_CLUSTERS_PER_OPERATION * cluster;
        check(size <= bound, "the image grew to " + size + " bytes (bound " + bound + ", started at "
                + mutation.bytes().length + ", " + rw.writtenBytes() + " bytes written)");
        if (openedRw && size >= 4) {
            ByteBuffer header = ByteBuffer.wrap(Qcow2ImageFiles.readFile(image, 0, Qcow2Header.V3_HEADER_LENGTH));
            check(header.getInt(0) == Qcow2Header.MAGIC, "the header lost its magic");
            if (rw.corruptionSeen() && header.getInt(4) >= 3) {
                check((header.getLong(Qcow2Header.INCOMPATIBLE_FEATURES_OFFSET) & FeatureBits.INCOMPAT_CORRUPT) != 0,
                        "damage was found in a read-write open but the corrupt bit is not set");
            }
        }
    }

    /**
     * No write of the read-write phase landed on the image's own metadata (see
     * {@link Qcow2MetadataOverlaps.Scan#newWritesOnMetadata}): a damaged image may come in with
     * data and metadata on one cluster, but the driver must not add such a cluster.
     */
    private void checkNoNewOverlap(Path image, Qcow2MetadataOverlaps.Scan before) throws IOException {
        if (before == null) {
            return;
        }
        Qcow2MetadataOverlaps.Scan after = Qcow2MetadataOverlaps.of(Files.readAllBytes(image));
        if (after == null) {
            return;
        }
        List<Qcow2MetadataOverlaps.Overlap> added = after.newWritesOnMetadata(before);
        check(added.isEmpty(), "a write landed on the image's own metadata: " + added);
    }

    private Path sidecar() {
        return org.fleeced.tracking.IntentLog.sidecarFor(images.casePath());
    }

    private void removeCaseFiles() throws IOException {
        Files.deleteIfExists(images.casePath());
        Files.deleteIfExists(sidecar());
        Files.deleteIfExists(sidecar().resolveSibling(sidecar().getFileName() + ".new"));
    }

    private void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    /** The case as a reader needs it to reproduce and understand a failure. */
    String describe() {
        StringBuilder b = new StringBuilder();
        b.append("case seed ").append(seed).append(" (0x").append(Long.toHexString(seed)).append(")\n");
        b.append("base: ").append(base == null ? "?" : base.description()).append('\n');
        if (mutation != null) {
            b.append("mutations: ").append(mutation.steps().isEmpty() ? "none (control)" : "").append('\n');
            for (String s : mutation.steps()) {
                b.append("  ").append(s).append('\n');
            }
        }
        b.append("last operations:\n");
        for (String s : trail) {
            b.append("  ").append(s).append('\n');
        }
        return b.toString();
    }

    /** The mutated image, to save beside a failure report. */
    byte[] imageBytes() {
        return mutation == null ? new byte[0] : mutation.bytes();
    }
}
