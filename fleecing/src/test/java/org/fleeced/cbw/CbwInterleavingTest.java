package org.fleeced.cbw;

import static org.awaitility.Awaitility.await;
import static org.fleeced.block.BlockNodeContractTest.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.AllocatedBlocks;
import org.fleeced.block.testing.ControllableNode.Gate;
import org.fleeced.block.testing.ControllableNode.Op;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Scripted interleavings of guest changes and reader requests on one cluster or a few, each
 * asserting the exact bytes the reader sees. The disk holds {@code OLD}, guest writes bring
 * other patterns; the snapshot must always show {@code OLD}.
 *
 * <pre>
 *   clusters:  | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 |   (64 KiB each, 512 KiB disk)
 * </pre>
 */
class CbwInterleavingTest {
    static final int C = 64 << 10;
    static final int SIZE = 8 * C;
    static final byte[] OLD = pattern(SIZE, 1);

    @TempDir
    Path dir;

    private final java.util.concurrent.ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();

    private CompletableFuture<Void> async(ThrowingRunnable body) {
        return CompletableFuture.runAsync(() -> {
            try {
                body.run();
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, threads);
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    private static byte[] old(long offset, int length) {
        return Arrays.copyOfRange(OLD, (int) offset, (int) offset + length);
    }

    @Test
    void guestWriteDuringReaderReadOfSameClusterWaitsAndReaderSeesOldData() throws Exception {
        try (CbwRig rig = CbwRig.create(dir, OLD, C, OnCbwError.BREAK_SNAPSHOT)) {
            Gate readerOnSource = rig.source.pauseNext(Op.READ);
            CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() -> readQuietly(rig, C, C), threads);
            readerOnSource.awaitArrived();
            byte[] fresh = pattern(4096, 2);
            CompletableFuture<Void> write = async(() -> rig.write(C + 100, fresh));
            // either the write is parked behind the frozen read, or (a bug) it has landed on the disk
            await().atMost(Duration.ofSeconds(30)).until(() -> rig.state.clustersCopied.sum() == 1
                    && (rig.state.frozenReads.size() == 1 && writerParked(write, rig)
                            || Arrays.equals(fresh, rig.readDisk(C + 100, 4096))));
            assertFalse(write.isDone(), "the guest write overtook a frozen read");
            readerOnSource.open();
            assertArrayEquals(old(C, C), read.get(), "reader saw new data");
            write.get();
            assertArrayEquals(fresh, rig.readDisk(C + 100, 4096));
            assertArrayEquals(old(C, C), rig.read(C, C), "the copied cluster must still read old");
            assertEquals(1, rig.state.writesDelayedByReads.sum());
        }
    }

    /** True once the writer has copied and can only be waiting for the frozen read. */
    private static boolean writerParked(CompletableFuture<Void> write, CbwRig rig) {
        return !write.isDone() && rig.state.inFlightCopies.isEmpty() && rig.state.done.get(C);
    }

    @Test
    void twoGuestWritesToOneUncopiedClusterShareOneCopy() throws Exception {
        try (CbwRig rig = CbwRig.create(dir, OLD, C, OnCbwError.BREAK_SNAPSHOT)) {
            Gate copy = rig.temp.pauseNext(Op.WRITE);
            CompletableFuture<Void> first = async(() -> rig.write(2 * C, pattern(512, 3)));
            copy.awaitArrived();
            CompletableFuture<Void> second = async(() -> rig.write(3 * C - 512, pattern(512, 4)));
            await().atMost(Duration.ofSeconds(30)).until(() -> rig.state.writesDelayedByCbw.sum() >= 0
                    && !second.isDone());
            assertFalse(first.isDone() || second.isDone(), "a write passed before its cluster was copied");
            copy.open();
            first.get();
            second.get();
            assertEquals(1, rig.temp.calls(Op.WRITE), "the cluster was copied more than once");
            assertEquals(1, rig.state.clustersCopied.sum());
            assertArrayEquals(old(2 * C, C), rig.read(2 * C, C));
            assertArrayEquals(pattern(512, 3), rig.readDisk(2 * C, 512));
            assertArrayEquals(pattern(512, 4), rig.readDisk(3 * C - 512, 512));
        }
    }

    @Test
    void readerReadsNeverWaitForABlockedGuestWrite() throws Exception {
        try (CbwRig rig = CbwRig.create(dir, OLD, C, OnCbwError.BREAK_SNAPSHOT)) {
            Gate copy = rig.temp.pauseNext(Op.WRITE);
            CompletableFuture<Void> write = async(() -> rig.write(4 * C, pattern(C, 5)));
            copy.awaitArrived();
            assertArrayEquals(old(3 * C, 3 * C), rig.read(3 * C, 3 * C), "read during a stuck copy");
            copy.open();
            write.get();
            assertArrayEquals(old(3 * C, 3 * C), rig.read(3 * C, 3 * C));
        }
    }

    @Test
    void discardDuringACopyFreesTheTempSpaceAndLaterReadsFailWithEacces() throws Exception {
        try (CbwRig rig = CbwRig.create(dir, OLD, C, OnCbwError.BREAK_SNAPSHOT)) {
            Gate copy = rig.temp.pauseNext(Op.WRITE);
            CompletableFuture<Void> write = async(() -> rig.write(C, pattern(C, 6)));
            copy.awaitArrived();
            rig.reader.discard(C, C);
            copy.open();
            write.get();
            assertArrayEquals(pattern(C, 6), rig.readDisk(C, C));
            BlockIOException e = assertThrows(BlockIOException.class, () -> rig.read(C, 512));
            assertEquals(Errno.EACCES, e.errno());
            assertEquals(0, AllocatedBlocks.of(dir.resolve("temp.raw")), "discarded temp data still takes space");
            assertEquals(0, rig.quota.usedBytes());
            assertArrayEquals(old(2 * C, C), rig.read(2 * C, C), "neighbours stay readable");
        }
    }

    @Test
    void aWriteCrossingTheEdgeOfTheAccessBitmapCopiesOnlyReadableClusters() throws Exception {
        DirtyBitmap changes = new DirtyBitmap(SIZE, C);
        changes.set(2 * C, 2 * C);
        CbwSettings settings = new CbwSettings(C, OnCbwError.BREAK_SNAPSHOT, 0);
        try (CbwRig rig = CbwRig.create(dir, OLD, settings, 0, changes.frozenCopy())) {
            rig.write(2 * C - 1000, pattern(2 * C + 2000, 7));
            assertEquals(2, rig.state.clustersCopied.sum(), "only clusters 2 and 3 are in the snapshot");
            assertArrayEquals(old(2 * C, 2 * C), rig.read(2 * C, 2 * C));
            for (long outside : new long[] {C, 4 * C, 2 * C - 1}) {
                BlockIOException e = assertThrows(BlockIOException.class, () -> rig.read(outside, 2));
                assertEquals(Errno.EACCES, e.errno(), "read at " + outside);
            }
            var status = rig.reader.blockStatus(0, SIZE);
            assertTrue(status.stream().noneMatch(x -> x.zero()), "unreadable ranges are never reported as zero");
        }
    }

    @Test
    void aLargeReadAcrossCopiedAndUncopiedRunsIsSplitExactly() throws Exception {
        try (CbwRig rig = CbwRig.create(dir, OLD, C, OnCbwError.BREAK_SNAPSHOT)) {
            // copied: 0, 1, 4; uncopied: 2, 3, 5, 6, 7 (the QEMU 7.2 bug: a read starting in a
            // copied run and ending in an uncopied one returned new data)
            rig.write(0, pattern(2 * C, 8));
            rig.write(4 * C + 10, pattern(100, 9));
            rig.guest.writeZeroes(6 * C + 4096, 4096, WriteFlag.NONE);
            assertArrayEquals(old(C / 2, SIZE - C / 2 - 100), rig.read(C / 2, SIZE - C / 2 - 100));
            assertArrayEquals(old(0, SIZE), rig.read(0, SIZE));
            assertArrayEquals(new byte[4096], rig.readDisk(6 * C + 4096, 4096));
        }
    }

    @Test
    void unalignedDiscardsAreRoundedInwardAndNeverFail() throws Exception {
        long size = 8L * C + 1234;
        byte[] initial = pattern((int) size, 1);
        try (CbwRig rig = CbwRig.create(dir, initial, C, OnCbwError.BREAK_SNAPSHOT)) {
            rig.reader.discard(C / 2, 2 * C);          // only cluster 1 is wholly inside
            rig.reader.discard(4 * C + 1, C - 2);      // no whole cluster: nothing
            rig.reader.discard(8 * C + 1, 1233);       // the partial last cluster, not from its start: nothing
            assertArrayEquals(Arrays.copyOfRange(initial, 0, C), rig.read(0, C));
            assertArrayEquals(Arrays.copyOfRange(initial, 2 * C, 3 * C), rig.read(2 * C, C));
            assertArrayEquals(Arrays.copyOfRange(initial, 4 * C, 5 * C), rig.read(4 * C, C));
            assertEquals(Errno.EACCES, assertThrows(BlockIOException.class, () -> rig.read(C, 1)).errno());
            assertArrayEquals(Arrays.copyOfRange(initial, 8 * C, (int) size), rig.read(8 * C, 1234));
            rig.reader.discard(8 * C, 1234);           // the whole partial last cluster
            assertEquals(Errno.EACCES, assertThrows(BlockIOException.class, () -> rig.read(8 * C + 5, 1)).errno());
            rig.write(C, pattern(C, 2));
            assertEquals(0, rig.state.clustersCopied.sum(), "a discarded cluster is not copied");
        }
    }

    @Test
    void guestZeroesAndDiscardsAreCopiedBeforeTheyLand() throws Exception {
        try (CbwRig rig = CbwRig.create(dir, OLD, C, OnCbwError.BREAK_SNAPSHOT)) {
            rig.guest.writeZeroes(C + 7, 3 * C, WriteFlag.of(WriteFlag.MAY_UNMAP));
            rig.guest.discard(5 * C, C);
            assertEquals(5, rig.state.clustersCopied.sum(), "clusters 1-4 zeroed, 5 discarded");
            assertArrayEquals(old(0, SIZE), rig.read(0, SIZE));
        }
    }

    @ParameterizedTest
    @EnumSource(OnCbwError.class)
    void aQuotaThatFillsMidCopy(OnCbwError policy) throws Exception {
        CbwSettings settings = new CbwSettings(C, policy, 0);
        try (CbwRig rig = CbwRig.create(dir, OLD, settings, 3L * C, null)) {
            rig.write(0, pattern(2 * C, 10));                       // two clusters: fits
            byte[] late = pattern(2 * C, 11);
            if (policy == OnCbwError.BREAK_GUEST_WRITE) {
                BlockIOException e = assertThrows(BlockIOException.class, () -> rig.write(2 * C, late));
                assertEquals(Errno.ENOSPC, e.errno(), e.toString());
                assertArrayEquals(old(2 * C, 2 * C), rig.readDisk(2 * C, 2 * C), "a refused write changed the disk");
                assertArrayEquals(old(0, SIZE), rig.read(0, SIZE), "the snapshot must stay intact");
                rig.reader.discard(0, 2 * C);                        // frees room: the retry succeeds
                rig.write(2 * C, late);
                assertArrayEquals(old(2 * C, 2 * C), rig.read(2 * C, 2 * C));
            } else {
                rig.write(2 * C, late);
                assertArrayEquals(late, rig.readDisk(2 * C, 2 * C), "the guest write must land");
                BlockIOException e = assertThrows(BlockIOException.class, () -> rig.read(0, C));
                assertEquals(Errno.EIO, e.errno());
                assertTrue(e.getMessage().contains("quota"), "the root cause is named: " + e.getMessage());
                rig.write(5 * C, pattern(C, 12));
                assertEquals(2, rig.state.clustersCopied.sum(), "a broken snapshot copies nothing more");
            }
        }
    }

    @ParameterizedTest
    @EnumSource(OnCbwError.class)
    void aTempWriteErrorBreaksWhatThePolicySays(OnCbwError policy) throws Exception {
        try (CbwRig rig = CbwRig.create(dir, OLD, C, policy)) {
            rig.temp.fail(Op.WRITE, Errno.EIO);
            byte[] fresh = pattern(C, 13);
            if (policy == OnCbwError.BREAK_GUEST_WRITE) {
                assertEquals(Errno.EIO, assertThrows(BlockIOException.class, () -> rig.write(3 * C, fresh)).errno());
                assertArrayEquals(old(3 * C, C), rig.readDisk(3 * C, C));
                rig.temp.fail(Op.WRITE, null);
                rig.write(3 * C, fresh);
                assertArrayEquals(old(0, SIZE), rig.read(0, SIZE));
            } else {
                rig.write(3 * C, fresh);
                assertArrayEquals(fresh, rig.readDisk(3 * C, C));
                BlockIOException e = assertThrows(BlockIOException.class, () -> rig.read(0, 512));
                assertEquals(Errno.EIO, e.errno());
                assertTrue(e.getMessage().contains("injected EIO"), e.getMessage());
                assertEquals(Errno.EIO, assertThrows(BlockIOException.class, () -> rig.reader.blockStatus(0, SIZE)).errno());
            }
        }
    }

    @Test
    void aTimeoutAbove4Point3SecondsIsHonouredInFull() throws Exception {
        Duration timeout = Duration.ofMillis(4500);
        CbwSettings settings = CbwSettings.of(C, OnCbwError.BREAK_SNAPSHOT, timeout);
        assertEquals(4_500_000_000L, settings.timeoutNanos());
        assertEquals(3_600_000_000_000L, CbwSettings.of(C, OnCbwError.BREAK_SNAPSHOT, Duration.ofHours(1)).timeoutNanos());
        try (CbwRig rig = CbwRig.create(dir, OLD, settings, 0, null)) {
            Gate copy = rig.temp.pauseNext(Op.WRITE);
            long start = System.nanoTime();
            rig.write(0, pattern(512, 14));     // waits for the stuck copy until the timeout, then breaks the snapshot
            long waited = System.nanoTime() - start;
            assertTrue(waited >= timeout.toNanos(), "gave up after " + waited + " ns, before the " + timeout
                    + " timeout (a 32-bit overflow would give up after about 205 ms)");
            BlockIOException e = assertThrows(BlockIOException.class, () -> rig.read(C, 512));
            assertTrue(e.getMessage().contains("timed out"), e.getMessage());
            copy.open();
            await().atMost(30, TimeUnit.SECONDS).until(() -> rig.state.inFlightCopies.isEmpty());
        }
    }

    private static byte[] readQuietly(CbwRig rig, long offset, int length) {
        try {
            return rig.read(offset, length);
        } catch (BlockIOException e) {
            throw new java.util.concurrent.CompletionException(e);
        }
    }
}
