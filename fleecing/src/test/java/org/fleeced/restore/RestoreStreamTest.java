package org.fleeced.restore;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.block.testing.ControllableNode;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The background stream alone, over a raw source of random data: pieces copy in parallel, its
 * limits change while it runs, and after giving up it runs again when asked.
 *
 * <pre>
 *   RestoreStream ──▶ CopyOnRead ──▶ disk.qcow2
 *                         └─ source: HeldReads? ──▶ ControllableNode ──▶ backup.raw (8 MiB of data)
 * </pre>
 */
class RestoreStreamTest {
    private static final long SIZE = 8L << 20;
    private static final Duration HANG = Duration.ofSeconds(60);

    @TempDir
    Path dir;
    private byte[] data;
    private Qcow2Node image;
    private ControllableNode source;
    private RestoreStream stream;
    private final AtomicBoolean completed = new AtomicBoolean();

    @BeforeEach
    void makeSourceAndImage() throws Exception {
        data = new byte[(int) SIZE];
        new Random(17).nextBytes(data);
        try (RawFileNode raw = RawFileNode.create(dir.resolve("backup.raw"), SIZE)) {
            raw.write(0, ByteBuffer.wrap(data), WriteFlag.NONE);
        }
        Qcow2Creator.create(dir.resolve("disk.qcow2"), Qcow2CreateOptions.of(SIZE));
        image = Qcow2Node.open(dir.resolve("disk.qcow2"), Qcow2OpenOptions.readWrite());
        source = new ControllableNode(RawFileNode.open(dir.resolve("backup.raw"), true));
    }

    @AfterEach
    void close() throws Exception {
        if (stream != null) {
            stream.stop();
        }
        image.close();
        source.close();
    }

    @Test
    void piecesCopyInParallelUpToTheLimit() throws Exception {
        HeldReads held = new HeldReads(source);
        stream = stream(held, new RestoreLimits(0, 3), 100);
        await().atMost(HANG).until(() -> held.waiting.get() == 3);
        held.release.countDown();
        await().atMost(HANG).until(completed::get);
        assertEquals(3, held.most.get(), "more pieces at once than the limit");
        assertImageIsTheSource();
    }

    @Test
    void aRaisedLimitTakesEffectWhileTheStreamWaits() throws Exception {
        stream = stream(source, new RestoreLimits(1024, 1), 100);
        await().atMost(HANG).until(() -> stream.progress().doneBytes() >= 1 << 20);
        stream.setLimits(new RestoreLimits(0, 4));
        await().atMost(HANG).until(completed::get);
        assertImageIsTheSource();
    }

    @Test
    void aStreamThatGaveUpRunsAgainWhenStarted() throws Exception {
        source.fail(ControllableNode.Op.READ, Errno.EIO);
        stream = stream(source, RestoreLimits.DEFAULT, 1);
        await().atMost(HANG).until(() -> stream.progress().state() == RestoreProgress.State.FAILED);
        assertEquals(RestoreStream.MAX_RETRIES, stream.progress().retries());
        assertTrue(stream.progress().lastError().contains("EIO"), stream.progress().lastError());
        source.fail(ControllableNode.Op.READ, null);
        stream.start();
        await().atMost(HANG).until(completed::get);
        assertEquals(RestoreProgress.State.COMPLETE, stream.progress().state());
        assertImageIsTheSource();
    }

    private RestoreStream stream(BlockNode from, RestoreLimits limits, long firstBackoffMillis) throws Exception {
        RestoredClusters restored = RestoredClusters.create(dir.resolve("disk.qcow2"), SIZE, 65536, "raw:backup.raw");
        RestoreStream s = new RestoreStream(new CopyOnRead(from, image, restored), limits, () -> completed.set(true),
                firstBackoffMillis);
        s.start();
        return s;
    }

    private void assertImageIsTheSource() throws BlockIOException {
        byte[] actual = new byte[(int) SIZE];
        image.read(0, ByteBuffer.wrap(actual));
        assertArrayEquals(data, actual);
    }

    /** A source whose reads wait until released, counting how many wait at once. */
    private static final class HeldReads extends FilterNode {
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicInteger waiting = new AtomicInteger();
        final AtomicInteger most = new AtomicInteger();

        HeldReads(BlockNode child) {
            super(child);
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws BlockIOException {
            most.accumulateAndGet(waiting.incrementAndGet(), Math::max);
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new BlockIOException(Errno.EIO, "interrupted");
            }
            child.read(offset, dst);
            waiting.decrementAndGet();
        }

        @Override
        public String describe() {
            return "held-reads(" + child.describe() + ")";
        }

        @Override
        public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
            throw new BlockIOException(Errno.EROFS, "a restore source is read-only");
        }

        @Override
        public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
            throw new BlockIOException(Errno.EROFS, "a restore source is read-only");
        }

        @Override
        public void discard(long offset, long length) throws BlockIOException {
            throw new BlockIOException(Errno.EROFS, "a restore source is read-only");
        }
    }
}
