package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Deque;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Capabilities;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;
import org.fleeced.qcow2.bitmap.BitmapInfo;
import org.fleeced.qcow2.bitmap.PersistentBitmaps;

/**
 * The seeded operations of one phase of a fuzz case (one open of the image): every call the
 * daemon makes on a disk, with ranges that obey the node contract (in range, within the maximum
 * request size) but go anywhere, near the end of the disk included. A {@link BlockIOException}
 * is counted and the next operation runs; any other exception escapes. In a control case (a
 * valid image) a BlockIOException is a failure too.
 */
final class Qcow2FuzzOperations {
    /** An open or close that may fail only with BlockIOException. */
    interface Call<T> {
        T call() throws BlockIOException;
    }

    /** An operation that may fail only with BlockIOException. */
    interface Step {
        void run() throws BlockIOException;
    }

    private static final int TRAIL_LENGTH = 40;
    private static final Set<Errno> CALLER_ERRORS = EnumSet.of(Errno.EINVAL, Errno.ENOTSUP, Errno.EROFS);
    /** Control cases check reads against a model of the disk up to this virtual size. */
    private static final long MODEL_LIMIT_BYTES = 16L << 20;
    private static final long[] GRANULARITIES = {512, 4096, 65536, 1L << 20};

    private final Random random;
    /** Shared by every thread of a concurrent phase: guarded by itself. */
    private final Deque<String> trail;
    private final boolean control;
    private int operations;
    private int failures;
    private long writtenBytes;
    private int clusterBytes;
    /** In a control case's read-write phase: what the disk must read as. Null otherwise. */
    private SparseDiskModel model;
    /**
     * False for the threads of a concurrent phase: their writes interleave, so no model can
     * follow them, and one thread cannot know that another found damage first.
     */
    private boolean sequential = true;
    /** Damage was reported (a CorruptionException) by an operation of this open. */
    private boolean corruptionSeen;

    Qcow2FuzzOperations(Random random, Deque<String> trail, boolean control) {
        this.random = random;
        this.trail = trail;
        this.control = control;
    }

    int operations() {
        return operations;
    }

    int failures() {
        return failures;
    }

    long writtenBytes() {
        return writtenBytes;
    }

    /** The cluster size the opened image reported (its preferred request size), 0 before an open. */
    int clusterBytes() {
        return clusterBytes;
    }

    /** Opens; a BlockIOException is a clean refusal and gives null. */
    <T> T open(String what, Call<T> opener) {
        note(what);
        try {
            return opener.call();
        } catch (BlockIOException e) {
            note("  refused: " + e.errno() + " " + e.getMessage());
            if (control) {
                throw new AssertionError("a valid image was refused: " + e.getMessage(), e);
            }
            return null;
        }
    }

    void close(Step closer) {
        step("close", closer);
    }

    /** Runs 4 to 20 operations on an open node, with bitmap operations when {@code bitmaps} is given. */
    void exercise(BlockNode node, PersistentBitmaps bitmaps, boolean write) {
        Capabilities caps = node.capabilities();
        clusterBytes = caps.preferredSize();
        corruptionSeen = false;
        if (control && write && sequential && node.size() <= MODEL_LIMIT_BYTES) {
            model = new SparseDiskModel(readAll(node));
        }
        int count = 4 + random.nextInt(17);
        for (int i = 0; i < count; i++) {
            int kind = random.nextInt(100);
            if (kind < 35 || (!write && kind < 70)) {
                read(node, caps);
            } else if (kind < 55 || !write) {
                blockStatus(node);
            } else if (kind < 70) {
                write(node, caps);
            } else if (kind < 78) {
                writeZeroes(node, caps);
            } else if (kind < 85) {
                long[] r = range(node.size(), Long.MAX_VALUE);
                dataStep("discard " + r[0] + "+" + r[1], () -> {
                    node.discard(r[0], r[1]);
                    if (model != null) {
                        model.discard(r[0], r[1]);
                    }
                });
            } else if (kind < 90) {
                dataStep("flush", node::flush);
            } else if (bitmaps != null) {
                bitmapOperation(bitmaps, write);
            }
        }
        if (bitmaps != null) {
            bitmapOperation(bitmaps, false);
        }
    }

    private void read(BlockNode node, Capabilities caps) {
        long[] r = range(node.size(), caps.maxRequestBytes());
        dataStep("read " + r[0] + "+" + r[1], () -> {
            ByteBuffer b = ByteBuffer.allocate((int) r[1]);
            node.read(r[0], b);
            long wrong = model == null ? -1 : model.checkAndSettle(r[0], b.array());
            if (wrong >= 0) {
                throw new AssertionError("a valid image reads wrong data at " + wrong);
            }
        });
    }

    private byte[] readAll(BlockNode node) {
        try {
            return Qcow2ImageFiles.readAll(node);
        } catch (BlockIOException e) {
            throw new AssertionError("a valid image cannot be read: " + e.getMessage(), e);
        }
    }

    private void blockStatus(BlockNode node) {
        long[] r = range(node.size(), Long.MAX_VALUE);
        dataStep("blockStatus " + r[0] + "+" + r[1], () -> {
            List<Extent> extents = node.blockStatus(r[0], r[1]);
            if (r[1] > 0 && extents.isEmpty()) {
                throw new AssertionError("blockStatus returned no extent");
            }
        });
    }

    private void write(BlockNode node, Capabilities caps) {
        long[] r = range(node.size(), caps.maxRequestBytes());
        byte[] data = new byte[(int) r[1]];
        java.util.Arrays.fill(data, (byte) (1 + random.nextInt(255)));
        if (data.length > 0) {
            data[random.nextInt(data.length)] = (byte) random.nextInt();
        }
        Set<WriteFlag> flags = random.nextInt(8) == 0 ? Set.of(WriteFlag.FUA) : WriteFlag.NONE;
        writtenBytes += r[1];
        dataStep("write " + r[0] + "+" + r[1] + " " + flags, () -> {
            node.write(r[0], ByteBuffer.wrap(data), flags);
            if (model != null) {
                model.write(r[0], data);
            }
        });
    }

    private void writeZeroes(BlockNode node, Capabilities caps) {
        long[] r = range(node.size(), Long.MAX_VALUE);
        Set<WriteFlag> flags = EnumSet.noneOf(WriteFlag.class);
        if (random.nextBoolean()) {
            flags.add(WriteFlag.MAY_UNMAP);
        }
        boolean fast = caps.canFastZero() && random.nextInt(4) == 0;
        if (fast) {
            flags.add(WriteFlag.FAST_ZERO);
        }
        writtenBytes += r[1];
        String what = "writeZeroes " + r[0] + "+" + r[1] + " " + flags;
        note(what);
        try {
            node.writeZeroes(r[0], r[1], flags);
            if (model != null) {
                model.zero(r[0], r[1]);
            }
        } catch (BlockIOException e) {
            if (!(fast && e.errno() == Errno.ENOTSUP)) {
                dataFailed(what, e);
            }
        }
    }

    private void bitmapOperation(PersistentBitmaps bitmaps, boolean write) {
        List<BitmapInfo> infos = bitmaps.list();
        BitmapInfo picked = infos.isEmpty() ? null : infos.get(random.nextInt(infos.size()));
        String name = picked == null ? "none" : picked.name();
        boolean inconsistent = picked != null && picked.state() == org.fleeced.qcow2.bitmap.BitmapState.INCONSISTENT;
        int kind = write ? random.nextInt(6) : 0;
        switch (kind) {
            case 0 -> bitmapStep("get bitmap " + name, inconsistent, () -> {
                if (!infos.isEmpty() && bitmaps.get(name) == null) {
                    throw new AssertionError("get returned null");
                }
            });
            case 1 -> {
                long g = GRANULARITIES[random.nextInt(GRANULARITIES.length)];
                String added = "fuzz-" + random.nextInt(1000);
                boolean enabled = random.nextBoolean();
                bitmapStep("add bitmap " + added + " granularity " + g, false, () -> bitmaps.add(added, g, enabled, true));
            }
            case 2 -> bitmapStep("remove bitmap " + name, false, () -> bitmaps.remove(name));
            case 3 -> {
                boolean enabled = random.nextBoolean();
                bitmapStep("setEnabled " + name + " " + enabled, inconsistent, () -> bitmaps.setEnabled(name, enabled));
            }
            default -> step("checkpointToImage", bitmaps::checkpointToImage);
        }
    }

    /**
     * A bitmap operation: besides damage, it may be refused for the caller's own mistake (no such
     * name, a taken name, an image that cannot hold persistent bitmaps, a bitmap listed as
     * inconsistent), which a control case allows.
     */
    private void bitmapStep(String what, boolean inconsistent, Step s) {
        note(what);
        try {
            s.run();
        } catch (BlockIOException e) {
            if (control && (CALLER_ERRORS.contains(e.errno()) || (inconsistent && e.errno() == Errno.EIO))) {
                note("  refused: " + e.errno() + " " + e.getMessage());
                return;
            }
            failed(what, e);
        }
    }

    /**
     * Runs reads, block status queries, writes, zero writes, discards and flushes from
     * {@code threads} virtual threads at once (bitmap operations on one of them), each with its own seed drawn from this one (the
     * interleaving is the scheduler's, so such a case may not repeat exactly).
     */
    void exerciseConcurrently(BlockNode node, PersistentBitmaps bitmaps, int threads) {
        List<Qcow2FuzzOperations> each = new java.util.ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Qcow2FuzzOperations ops = new Qcow2FuzzOperations(new Random(random.nextLong()), trail, control);
            ops.sequential = false;
            each.add(ops);
        }
        note("concurrently on " + threads + " threads:");
        java.util.concurrent.atomic.AtomicReference<Throwable> escaped = new java.util.concurrent.atomic.AtomicReference<>();
        List<Thread> started = new java.util.ArrayList<>();
        for (Qcow2FuzzOperations ops : each) {
            // The first thread also stores, adds and removes bitmaps, as the daemon's timer and
            // REST calls do while guest I/O goes on.
            PersistentBitmaps withBitmaps = ops == each.get(0) ? bitmaps : null;
            started.add(Thread.ofVirtual().start(() -> {
                try {
                    ops.exercise(node, withBitmaps, true);
                } catch (Throwable e) {
                    escaped.compareAndSet(null, e);
                }
            }));
        }
        for (Thread t : started) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted while waiting for the case's threads", e);
            }
        }
        for (Qcow2FuzzOperations ops : each) {
            operations += ops.operations;
            failures += ops.failures;
            writtenBytes += ops.writtenBytes;
            clusterBytes = Math.max(clusterBytes, ops.clusterBytes);
        }
        if (escaped.get() != null) {
            throw new AssertionError("an operation on another thread threw " + escaped.get(), escaped.get());
        }
    }

    /** A range in a disk of {@code size} bytes: anywhere, often near the end; at most {@code max} bytes. */
    private long[] range(long size, long max) {
        if (size == 0) {
            return new long[] {0, 0};
        }
        long offset = switch (random.nextInt(4)) {
            case 0 -> Math.max(0, size - 1 - random.nextInt(200_000));
            case 1 -> 0;
            default -> random.nextLong(size);
        };
        int cluster = Math.max(512, clusterBytes);
        long length = switch (random.nextInt(5)) {
            case 0 -> 1 + random.nextInt(512);
            case 1 -> cluster;
            case 2 -> 1 + random.nextInt(3 * cluster);
            default -> 1 + random.nextInt(150_000);
        };
        length = Math.min(Math.min(length, size - offset), Math.min(max, 4L << 20));
        return new long[] {offset, length};
    }

    private void step(String what, Step s) {
        note(what);
        try {
            s.run();
        } catch (BlockIOException e) {
            failed(what, e);
        }
    }

    /** A read, write, zero write, discard, block status or flush. */
    private void dataStep(String what, Step s) {
        note(what);
        try {
            s.run();
        } catch (BlockIOException e) {
            dataFailed(what, e);
        }
    }

    /**
     * DESIGN section 5: damaged metadata is EIO and marks the image corrupt. On a memory file
     * system there are no real I/O errors, so every failure of the data path is damage: EIO, a
     * {@link CorruptionException} the first time (the node marks the image), the refusal of a
     * marked image after that.
     */
    private void dataFailed(String what, BlockIOException e) {
        failed(what, e);
        if (e.errno() != Errno.EIO) {
            throw new AssertionError(what + " failed with " + e.errno() + ", only EIO is expected from damage", e);
        }
        if (!sequential) {
            return;
        }
        if (e instanceof CorruptionException) {
            corruptionSeen = true;
        } else if (!corruptionSeen) {
            throw new AssertionError(what + ": EIO without marking the image corrupt: " + e.getMessage(), e);
        }
    }

    /** Whether an operation of this open reported damage. */
    boolean corruptionSeen() {
        return corruptionSeen;
    }

    private void failed(String what, BlockIOException e) {
        failures++;
        note("  failed: " + e.errno() + " " + e.getMessage());
        if (control) {
            throw new AssertionError(what + " failed on a valid image: " + e.getMessage(), e);
        }
    }

    private void note(String s) {
        operations++;
        synchronized (trail) {
            trail.addLast(s.length() > 300 ? s.substring(0, 300) + "..." : s);
            while (trail.size() > TRAIL_LENGTH) {
                trail.removeFirst();
            }
        }
    }

    /** qemu-img check on a control case's image, when qemu-img is installed. */
    static void assertQemuCheckClean(Path image) {
        if (!QemuTools.installed("qemu-img")) {
            return;
        }
        try {
            QemuTools.assertCheckClean(image);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
