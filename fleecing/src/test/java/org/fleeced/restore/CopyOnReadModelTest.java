package org.fleeced.restore;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockNode;
import org.fleeced.block.ContractCheckingNode;
import org.fleeced.block.DiskModel;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seeded random guest reads, writes (partial clusters included), zeroes and discards against a
 * model, while the background stream copies at a low rate, with restarts from the persisted state
 * in between; at the end the stream completes and the image alone equals the model: the source
 * overlaid with the guest's writes.
 *
 * <pre>
 *   check ──▶ CopyOnReadFilter ──▶ qcow2 (16 KiB clusters)
 *                  ├─ source: raw file, random data runs and holes
 *                  └─ RestoreStream, 1 MiB/s, stopped and resumed at every restart
 * </pre>
 */
class CopyOnReadModelTest {
    private static final long SIZE = (6L << 20) + 1536;
    private static final int CLUSTER = 16 << 10;

    @TempDir
    Path dir;
    private Path image;
    private RawFileNode source;
    private Qcow2Node node;
    private CopyOnRead state;
    private BlockNode filter;
    private RestoreStream stream;
    private final AtomicBoolean completed = new AtomicBoolean();

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {7L, 0xc0ffeeL, 20261202L})
    void guestAndStreamMatchTheModel(long seed) throws Exception {
        Random random = new Random(seed);
        DiskModel model = new DiskModel((int) SIZE);
        image = dir.resolve("disk.qcow2");
        makeSource(random, model);
        Qcow2Creator.create(image, Qcow2CreateOptions.of(SIZE).withClusterSize(CLUSTER));
        open(RestoredClusters.create(image, SIZE, CLUSTER, "raw:" + dir.resolve("backup.raw")));
        for (int i = 0; i < 500; i++) {
            long offset = random.nextLong(SIZE);
            long length = Math.min(SIZE - offset, 1 + random.nextInt(random.nextInt(6) == 0 ? 200_000 : 40_000));
            String where = "seed " + seed + " op " + i + " [" + offset + ", +" + length + ")";
            switch (random.nextInt(12)) {
                case 0, 1, 2 -> {
                    byte[] data = new byte[(int) length];
                    random.nextBytes(data);
                    filter.write(offset, ByteBuffer.wrap(data), random.nextInt(8) == 0 ? Set.of(WriteFlag.FUA) : WriteFlag.NONE);
                    model.write(offset, data);
                }
                case 3 -> {
                    filter.writeZeroes(offset, length, random.nextBoolean() ? Set.of(WriteFlag.MAY_UNMAP) : WriteFlag.NONE);
                    model.zero(offset, length);
                }
                case 4 -> {
                    filter.discard(offset, length);
                    model.discard(offset, length);
                }
                case 5 -> filter.flush();
                case 6 -> checkStatus(model, offset, length, where);
                case 7 -> {
                    if (random.nextInt(4) == 0) {
                        restart();
                    }
                }
                default -> checkRead(model, offset, (int) length, where);
            }
        }
        stream.stop();
        stream = new RestoreStream(state, RestoreLimits.of(0), () -> completed.set(true));
        stream.start();
        await().until(completed::get);
        assertTrue(state.restored.complete());
        filter.close();
        source.close();
        try (Qcow2Node alone = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            byte[] all = new byte[(int) SIZE];
            alone.read(0, ByteBuffer.wrap(all));
            assertEquals(-1, model.firstMismatch(0, all), "seed " + seed + ": the restored image differs");
            for (Extent e : alone.blockStatus(0, SIZE)) {
                assertTrue(e.depth() <= 1, "the image still reaches another layer: " + e);
            }
        }
    }

    private void makeSource(Random random, DiskModel model) throws Exception {
        try (RawFileNode raw = RawFileNode.create(dir.resolve("backup.raw"), SIZE)) {
            long pos = 0;
            while (pos < SIZE) {
                long run = Math.min(SIZE - pos, Alignment.alignUp(1 + random.nextInt(300_000), 512));
                if (random.nextInt(3) != 0) {
                    byte[] data = new byte[(int) run];
                    random.nextBytes(data);
                    raw.write(pos, ByteBuffer.wrap(data), WriteFlag.NONE);
                    model.write(pos, data);
                }
                pos += run;
            }
        }
        assertTrue(Files.size(dir.resolve("backup.raw")) == SIZE);
    }

    private void open(RestoredClusters restored) throws Exception {
        source = RawFileNode.open(dir.resolve("backup.raw"), true);
        node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite());
        state = new CopyOnRead(source, node, restored);
        filter = new ContractCheckingNode(new CopyOnReadFilter(node, state));
        stream = new RestoreStream(state, RestoreLimits.of(1L << 20), () -> completed.set(true));
        stream.start();
    }

    /** Stops as the daemon does (stream, then the stack), then resumes from the state on disk. */
    private void restart() throws Exception {
        stream.stop();
        filter.close();
        source.close();
        RestoredClusters again = RestoredClusters.load(image, SIZE);
        assertEquals(state.restored.restoredBytes(), again.restoredBytes(), "marks lost by a clean restart");
        open(again);
    }

    private void checkRead(DiskModel model, long offset, int length, String where) throws Exception {
        byte[] actual = new byte[length];
        filter.read(offset, ByteBuffer.wrap(actual));
        long bad = model.firstMismatch(offset, actual);
        if (bad >= 0) {
            fail(where + ": byte " + bad + " reads " + actual[(int) (bad - offset)] + ", model has " + model.get(bad));
        }
        model.settle(offset, actual);
    }

    private void checkStatus(DiskModel model, long offset, long length, String where) throws Exception {
        for (Extent e : filter.blockStatus(offset, length)) {
            if (e.zero() && model.hasNonZero(e.offset(), e.length())) {
                fail(where + ": " + e + " says zero, but the model has data there");
            }
        }
    }
}
