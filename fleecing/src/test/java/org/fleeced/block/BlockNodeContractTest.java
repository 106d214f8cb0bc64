package org.fleeced.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The contract every {@link BlockNode} and filter stack passes (Lucene's BaseDirectoryTestCase):
 * seeded random reads, writes, zeroes and discards against a {@link DiskModel}, plus the edges
 * (zero-length requests, the last byte, unaligned requests, concurrent requests, persistence).
 * Every node under test is wrapped in a {@link ContractCheckingNode}.
 *
 * <p>A subclass supplies a fresh writable node that reads as zeroes, and may override
 * {@link #reopen} when its data outlives close.
 */
public abstract class BlockNodeContractTest {
    @TempDir
    protected Path dir;
    protected BlockNode node;

    /** A fresh, writable node of {@code sizeBytes} that reads as zeroes. */
    protected abstract BlockNode createNode(Path dir, long sizeBytes) throws Exception;

    /** Opens the node created in {@code dir} again after close, or null when nothing persists. */
    protected BlockNode reopen(Path dir) throws Exception {
        return null;
    }

    /** The node's size; subclasses may pick an unaligned one to cover a partial last cluster. */
    protected long nodeSize() {
        return 8L << 20;
    }

    protected int randomOperations() {
        return 1500;
    }

    @BeforeEach
    void openNode() throws Exception {
        node = new ContractCheckingNode(createNode(dir, nodeSize()));
    }

    @AfterEach
    void closeNode() throws Exception {
        if (node != null) {
            node.close();
        }
    }

    @Test
    void freshNodeHasItsSizeAndReadsAsZeroes() throws Exception {
        assertEquals(nodeSize(), node.size());
        byte[] all = read(0, (int) Math.min(node.size(), 4 << 20));
        assertArrayEquals(new byte[all.length], all);
        assertWholeNodeStatusIsWellFormed();
    }

    @Test
    void zeroLengthRequestsAreNoOps() throws Exception {
        int align = align();
        write(align, pattern(align * 2, 7));
        node.read(align, ByteBuffer.allocate(0));
        node.write(align, ByteBuffer.allocate(0), WriteFlag.NONE);
        node.writeZeroes(align, 0, WriteFlag.NONE);
        node.discard(align, 0);
        node.read(node.size(), ByteBuffer.allocate(0));
        assertArrayEquals(pattern(align * 2, 7), read(align, align * 2));
    }

    @Test
    void theLastBytesAreReadableAndWritable() throws Exception {
        int align = align();
        long tail = Alignment.alignDown(node.size() - 1, align);
        int length = (int) (node.size() - tail);
        byte[] data = pattern(length, 99);
        write(tail, data);
        assertArrayEquals(data, read(tail, length));
        assertArrayEquals(new byte[(int) Math.min(tail, align)], read(tail - Math.min(tail, align), (int) Math.min(tail, align)));
    }

    @Test
    void unalignedRequestsKeepTheirNeighbours() throws Exception {
        if (align() != 1) {
            return;
        }
        byte[] base = pattern(3 * 65536, 1);
        write(0, base);
        byte[] patch = pattern(70001, 2);
        write(12345, patch);
        node.writeZeroes(100_000, 3, WriteFlag.NONE);
        byte[] expected = base.clone();
        System.arraycopy(patch, 0, expected, 12345, patch.length);
        expected[100_000] = expected[100_001] = expected[100_002] = 0;
        assertArrayEquals(expected, read(0, base.length));
    }

    @Test
    void writeZeroesReadsBackAsZeroesWithEveryFlag() throws Exception {
        int align = align();
        int unit = Math.max(align, 65536);
        for (Set<WriteFlag> flags : zeroFlagCombinations()) {
            write(0, pattern(unit * 4, 3));
            try {
                node.writeZeroes(unit / 2 / align * align, unit * 2L, flags);
            } catch (BlockIOException e) {
                assertTrue(flags.contains(WriteFlag.FAST_ZERO) && e.errno() == Errno.ENOTSUP, e.toString());
                assertArrayEquals(pattern(unit * 4, 3), read(0, unit * 4), "a failed fast zero changed data");
                continue;
            }
            byte[] expected = pattern(unit * 4, 3);
            java.util.Arrays.fill(expected, unit / 2 / align * align, unit / 2 / align * align + unit * 2, (byte) 0);
            assertArrayEquals(expected, read(0, unit * 4), "flags " + flags);
        }
    }

    @Test
    void discardNeverChangesBytesOutsideItsRange() throws Exception {
        int align = align();
        int len = 1 << 20;
        write(0, pattern(len, 5));
        long from = Alignment.alignUp(1000, align);
        long to = Alignment.alignDown(700_000, align);
        node.discard(from, to - from);
        byte[] after = read(0, len);
        byte[] before = pattern(len, 5);
        for (int i = 0; i < len; i++) {
            if ((i < from || i >= to) && after[i] != before[i]) {
                fail("discard [" + from + ", " + to + ") changed byte " + i);
            }
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1L, 0x5eedL, 20261122L})
    void randomOperationsMatchTheModel(long seed) throws Exception {
        Random random = new Random(seed);
        DiskModel model = new DiskModel((int) node.size());
        int align = align();
        for (int i = 0; i < randomOperations(); i++) {
            long offset = Alignment.alignDown(random.nextLong(node.size()), align);
            long maxLen = Math.min(node.size() - offset, random.nextInt(8) == 0 ? 2 << 20 : 96 << 10);
            long length = Math.min(node.size() - offset, Alignment.alignUp(1 + random.nextLong(maxLen), align));
            String where = "seed " + seed + " op " + i + " [" + offset + ", +" + length + ")";
            switch (random.nextInt(10)) {
                case 0, 1, 2, 3 -> {
                    byte[] data = new byte[(int) length];
                    random.nextBytes(data);
                    write(offset, data);
                    model.write(offset, data);
                }
                case 4 -> {
                    Set<WriteFlag> flags = random.nextBoolean() ? Set.of(WriteFlag.MAY_UNMAP) : WriteFlag.NONE;
                    node.writeZeroes(offset, length, flags);
                    model.zero(offset, length);
                }
                case 5 -> {
                    node.discard(offset, length);
                    model.discard(offset, length);
                }
                case 6 -> checkStatusAgainstModel(model, offset, length, where);
                case 7 -> node.flush();
                default -> {
                    byte[] actual = read(offset, (int) length);
                    long bad = model.firstMismatch(offset, actual);
                    if (bad >= 0) {
                        fail(where + ": byte " + bad + " reads " + actual[(int) (bad - offset)] + ", model has "
                                + model.get(bad));
                    }
                    model.settle(offset, actual);
                }
            }
        }
        byte[] all = read(0, (int) node.size());
        long bad = model.firstMismatch(0, all);
        assertEquals(-1, bad, "seed " + seed + ": final content differs at byte " + bad);
        assertWholeNodeStatusIsWellFormed();
    }

    @Test
    void concurrentRequestsOnDisjointRangesAllLand() throws Exception {
        int threads = 16;
        int slice = (int) Alignment.alignDown(node.size() / threads, Math.max(align(), 4096));
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                futures.add(pool.submit(() -> {
                    Random random = new Random(id);
                    for (int round = 0; round < 20; round++) {
                        int len = (int) Alignment.alignUp(1 + random.nextInt(slice), align());
                        len = Math.min(len, slice);
                        write((long) id * slice, pattern(len, id * 31 + round));
                        byte[] back = read((long) id * slice, len);
                        assertArrayEquals(pattern(len, id * 31 + round), back, "thread " + id + " round " + round);
                    }
                    write((long) id * slice, pattern(slice, id));
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        }
        for (int t = 0; t < threads; t++) {
            assertArrayEquals(pattern(slice, t), read((long) t * slice, slice), "slice " + t);
        }
    }

    @Test
    void flushedDataSurvivesCloseAndReopen() throws Exception {
        byte[] data = pattern(300_000, 42);
        long offset = Alignment.alignDown(node.size() / 3, align());
        write(offset, data);
        node.flush();
        node.close();
        BlockNode again = reopen(dir);
        node = again == null ? null : new ContractCheckingNode(again);
        if (node == null) {
            return;
        }
        assertArrayEquals(data, read(offset, data.length));
    }

    @Test
    void callsBreakingPreconditionsAreProgrammerErrors() {
        assertThrows(IllegalArgumentException.class, () -> node.read(node.size(), ByteBuffer.allocate(1)));
        assertThrows(IllegalArgumentException.class, () -> node.read(-1, ByteBuffer.allocate(1)));
        assertThrows(IllegalArgumentException.class,
                () -> node.writeZeroes(Long.MAX_VALUE - 10, 100, WriteFlag.NONE));
    }

    private void checkStatusAgainstModel(DiskModel model, long offset, long length, String where) throws Exception {
        for (Extent e : node.blockStatus(offset, length)) {
            if (e.zero() && model.hasNonZero(e.offset(), e.length())) {
                fail(where + ": " + e + " says zero, but the model has data there");
            }
            if (e.zero()) {
                byte[] actual = read(e.offset(), (int) e.length());
                assertArrayEquals(new byte[actual.length], actual, where + ": " + e + " does not read as zero");
            }
        }
    }

    private void assertWholeNodeStatusIsWellFormed() throws Exception {
        long pos = 0;
        int calls = 0;
        while (pos < node.size()) {
            List<Extent> extents = node.blockStatus(pos, node.size() - pos);
            assertFalse(extents.isEmpty());
            pos = extents.getLast().end();
            assertTrue(++calls < 1_000_000, "blockStatus makes no progress");
        }
        assertEquals(node.size(), pos);
    }

    private List<Set<WriteFlag>> zeroFlagCombinations() {
        List<Set<WriteFlag>> all = new ArrayList<>(List.of(WriteFlag.NONE, Set.of(WriteFlag.MAY_UNMAP)));
        if (node.capabilities().canFua()) {
            all.add(Set.of(WriteFlag.FUA));
        }
        if (node.capabilities().canFastZero()) {
            all.add(Set.of(WriteFlag.FAST_ZERO));
            all.add(Set.of(WriteFlag.FAST_ZERO, WriteFlag.MAY_UNMAP));
        }
        return all;
    }

    protected int align() {
        return node.capabilities().requestAlignment();
    }

    protected void write(long offset, byte[] data) throws BlockIOException {
        int max = node.capabilities().maxRequestBytes();
        for (int done = 0; done < data.length; done += max) {
            node.write(offset + done, ByteBuffer.wrap(data, done, Math.min(max, data.length - done)), WriteFlag.NONE);
        }
    }

    protected byte[] read(long offset, int length) throws BlockIOException {
        byte[] out = new byte[length];
        int max = node.capabilities().maxRequestBytes();
        for (int done = 0; done < length; done += max) {
            node.read(offset + done, ByteBuffer.wrap(out, done, Math.min(max, length - done)));
        }
        return out;
    }

    /** Deterministic, non-zero, position-dependent bytes. */
    public static byte[] pattern(int length, int seed) {
        byte[] out = new byte[length];
        for (int i = 0; i < length; i++) {
            out[i] = (byte) ((i * 31 + seed * 17 + (i >>> 9)) % 251 + 1);
        }
        return out;
    }
}
