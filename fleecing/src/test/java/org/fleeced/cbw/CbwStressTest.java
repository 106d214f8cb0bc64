package org.fleeced.cbw;

import org.fleeced.job.TempFormat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.DiskModel;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.testing.ControllableNode.Op;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Randomized guest and reader threads against reference models. Guest threads write, zero and
 * discard at random (unaligned) offsets and sizes, each in its own stripe of the disk; the
 * stripes do not end on cluster boundaries, so neighbouring threads share clusters. Reader
 * threads read and discard the snapshot at the same time. Checked:
 * <ul>
 *   <li>every byte a reader gets equals the disk at the snapshot point; a read fails only with
 *       EACCES when it touches a cluster the readers discarded, or with EIO once the snapshot
 *       was broken by policy;</li>
 *   <li>the disk ends exactly as the guest model (BREAK_SNAPSHOT: guest data intact; a write
 *       refused under BREAK_GUEST_WRITE changed nothing);</li>
 *   <li>under BREAK_GUEST_WRITE the snapshot is never broken.</li>
 * </ul>
 * Temp write faults are injected deterministically (every n-th write). Every case runs on a raw
 * and on a qcow2 temp image. Seeds are in the names and in every assertion message.
 */
class CbwStressTest {
    static final int C = 64 << 10;
    static final int SIZE = 64 * C + 4321;
    static final int GUESTS = 4;
    static final int READERS = 2;
    static final int GUEST_OPS = 500;
    static final int READER_OPS = 300;

    @TempDir
    Path dir;

    private final java.util.concurrent.atomic.AtomicInteger refusedWrites = new java.util.concurrent.atomic.AtomicInteger();

    @ParameterizedTest(name = "seed {0}, {1}, fail every {2}th temp write, {3} temp")
    @CsvSource({
        "1, BREAK_SNAPSHOT, 0, RAW",
        "2, BREAK_SNAPSHOT, 0, RAW",
        "3, BREAK_SNAPSHOT, 15, RAW",
        "4, BREAK_GUEST_WRITE, 0, RAW",
        "5, BREAK_GUEST_WRITE, 9, RAW",
        "6, BREAK_GUEST_WRITE, 4, RAW",
        "1, BREAK_SNAPSHOT, 0, QCOW2",
        "2, BREAK_SNAPSHOT, 0, QCOW2",
        "3, BREAK_SNAPSHOT, 15, QCOW2",
        "4, BREAK_GUEST_WRITE, 0, QCOW2",
        "5, BREAK_GUEST_WRITE, 9, QCOW2",
        "6, BREAK_GUEST_WRITE, 4, QCOW2",
    })
    void guestsAndReadersAgainstTheModels(long seed, OnCbwError policy, int failEvery, TempFormat tempFormat)
            throws Exception {
        Random setup = new Random(seed);
        byte[] initial = new byte[SIZE];
        setup.nextBytes(initial);
        Arrays.fill(initial, 5 * C, 8 * C, (byte) 0);
        byte[] snapshotPoint = initial.clone();
        DiskModel guestModel = new DiskModel(SIZE);
        guestModel.write(0, initial);
        BitSet discarded = new BitSet();
        try (CbwRig rig = CbwRig.create(dir, initial, new CbwSettings(C, policy, 0), 0, null, tempFormat)) {
            rig.sourceFile.discard(5 * C, 3 * C);
            if (failEvery > 0) {
                rig.temp.failEvery(Op.WRITE, Errno.EIO, failEvery);
            }
            List<Future<?>> work = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int g = 0; g < GUESTS; g++) {
                    int id = g;
                    work.add(pool.submit(() -> guest(rig, guestModel, seed, id)));
                }
                for (int r = 0; r < READERS; r++) {
                    int id = r;
                    work.add(pool.submit(() -> reader(rig, snapshotPoint, discarded, seed, id, policy)));
                }
                for (Future<?> f : work) {
                    f.get();
                }
            }
            assertEquals(rig.state.stored.dirtyBytes(), rig.quota.usedBytes(),
                    "seed " + seed + ": the quota charges exactly the old data the temp image holds");
            byte[] disk = rig.readDisk(0, SIZE);
            long bad = guestModel.firstMismatch(0, disk);
            assertEquals(-1, bad, "seed " + seed + ": the guest's data differs at byte " + bad);
            if (policy == OnCbwError.BREAK_GUEST_WRITE) {
                assertTrue(failEvery == 0 || refusedWrites.get() > 0, "seed " + seed + ": no fault was injected");
                assertTrue(!rig.state.breakage.isBroken(), "seed " + seed + ": break-guest-write broke the snapshot");
            }
            if (!rig.state.breakage.isBroken()) {
                checkWholeSnapshot(rig, snapshotPoint, discarded, seed);
            }
            assertTrue(failEvery == 0 || policy == OnCbwError.BREAK_GUEST_WRITE || rig.state.breakage.isBroken(),
                    "seed " + seed + ": injected faults should have broken the snapshot");
        }
    }

    private Void guest(CbwRig rig, DiskModel model, long seed, int id) throws BlockIOException {
        Random random = new Random(seed * 1000 + id);
        long stripeStart = (long) SIZE * id / GUESTS;
        long stripeEnd = (long) SIZE * (id + 1) / GUESTS;
        for (int i = 0; i < GUEST_OPS; i++) {
            long offset = stripeStart + random.nextLong(stripeEnd - stripeStart);
            int length = (int) Math.min(stripeEnd - offset, 1 + random.nextInt(random.nextInt(8) == 0 ? 3 * C : 9000));
            int kind = random.nextInt(10);
            try {
                if (kind < 7) {
                    byte[] data = new byte[length];
                    random.nextBytes(data);
                    rig.guest.write(offset, ByteBuffer.wrap(data), WriteFlag.NONE);
                    model.write(offset, data);
                } else if (kind < 9) {
                    rig.guest.writeZeroes(offset, length, random.nextBoolean() ? WriteFlag.of(WriteFlag.MAY_UNMAP) : WriteFlag.NONE);
                    model.zero(offset, length);
                } else {
                    rig.guest.discard(offset, length);
                    model.discard(offset, length);
                }
            } catch (BlockIOException e) {
                if (rig.state.breakage.isBroken() || e.errno() != Errno.EIO
                        || !e.getMessage().contains("break-guest-write")) {
                    fail("seed " + seed + " guest " + id + " op " + i + ": unexpected " + e);
                }
                refusedWrites.incrementAndGet();
            }
        }
        return null;
    }

    private Void reader(CbwRig rig, byte[] snapshotPoint, BitSet discarded, long seed, int id, OnCbwError policy)
            throws BlockIOException {
        Random random = new Random(seed * 1000 + 100 + id);
        for (int i = 0; i < READER_OPS; i++) {
            long offset = random.nextLong(SIZE);
            int length = (int) Math.min(SIZE - offset, 1 + random.nextInt(random.nextInt(4) == 0 ? 16 * C : 3 * C));
            String where = "seed " + seed + " reader " + id + " op " + i + " [" + offset + ", +" + length + ")";
            if (random.nextInt(12) == 0) {
                markDiscarded(discarded, offset, length);
                rig.reader.discard(offset, length);
                continue;
            }
            byte[] got = new byte[length];
            try {
                rig.reader.read(offset, ByteBuffer.wrap(got));
            } catch (BlockIOException e) {
                if (e.errno() == Errno.EACCES && touchesDiscarded(discarded, offset, length)) {
                    continue;
                }
                if (e.errno() == Errno.EIO && policy == OnCbwError.BREAK_SNAPSHOT && rig.state.breakage.isBroken()
                        && e.getMessage().contains("injected EIO")) {
                    continue;
                }
                fail(where + ": unexpected " + e);
            }
            for (int b = 0; b < length; b++) {
                if (got[b] != snapshotPoint[(int) offset + b]) {
                    fail(where + ": byte " + (offset + b) + " is " + got[b] + ", was " + snapshotPoint[(int) offset + b]
                            + " at the snapshot point");
                }
            }
        }
        return null;
    }

    private static void markDiscarded(BitSet discarded, long offset, long length) {
        long first = Math.ceilDiv(offset, C);
        long end = offset + length == SIZE ? Math.ceilDiv(SIZE, C) : (offset + length) / C;
        synchronized (discarded) {
            if (end > first) {
                discarded.set((int) first, (int) end);
            }
        }
    }

    private static boolean touchesDiscarded(BitSet discarded, long offset, long length) {
        synchronized (discarded) {
            int next = discarded.nextSetBit((int) (offset / C));
            return next >= 0 && next <= (offset + length - 1) / C;
        }
    }

    private static void checkWholeSnapshot(CbwRig rig, byte[] snapshotPoint, BitSet discarded, long seed)
            throws BlockIOException {
        long pos = 0;
        while (pos < SIZE) {
            List<Extent> extents = rig.reader.blockStatus(pos, SIZE - pos);
            for (Extent e : extents) {
                for (long c = e.offset(); c < e.end(); c = (c / C + 1) * C) {
                    int len = (int) Math.min(e.end(), (c / C + 1) * C) - (int) c;
                    if (discarded.get((int) (c / C))) {
                        continue;
                    }
                    byte[] got = rig.read(c, len);
                    byte[] expected = Arrays.copyOfRange(snapshotPoint, (int) c, (int) c + len);
                    assertTrue(Arrays.equals(expected, got), "seed " + seed + ": final snapshot read at " + c);
                    if (e.zero()) {
                        assertTrue(Arrays.equals(new byte[len], got), "seed " + seed + ": " + e + " is not zero at " + c);
                    }
                }
            }
            pos = extents.getLast().end();
        }
    }
}
