package org.fleeced.restore;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.block.testing.ControllableNode;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The restore state's sidecar: what persists, that a damaged file is never trusted, and that
 * guest reads waiting for their marks to be durable share commits.
 */
class RestoredClustersTest {
    private static final long SIZE = (1L << 20) + 512;

    @TempDir
    Path dir;

    @Test
    void onlyPersistedMarksSurviveAndTheLastPartialClusterCounts() throws Exception {
        Path image = dir.resolve("disk.qcow2");
        assertNull(RestoredClusters.load(image, SIZE));
        try (RawFileNode node = RawFileNode.create(image, SIZE)) {
            RestoredClusters map = RestoredClusters.create(image, SIZE, 65536, "nbd://backup/vda");
            map.mark(0, 65536);
            map.persist(node);
            map.mark(1L << 20, 512);
            RestoredClusters loaded = RestoredClusters.load(image, SIZE);
            assertEquals("nbd://backup/vda", loaded.source());
            assertEquals(65536, loaded.restoredBytes());
            map.persist(node);
            loaded = RestoredClusters.load(image, SIZE);
            assertEquals(65536 + 512, loaded.restoredBytes());
            assertTrue(loaded.isRestored(SIZE - 1));
        }
    }

    @Test
    void readersThatWaitedBehindACommitShareTheNextOne() throws Exception {
        int readers = 16;
        long size = readers * 65536L;
        byte[] data = new byte[(int) size];
        new Random(3).nextBytes(data);
        Path backup = dir.resolve("backup.raw");
        try (RawFileNode n = RawFileNode.create(backup, size)) {
            n.write(0, ByteBuffer.wrap(data), WriteFlag.NONE);
        }
        Path imagePath = dir.resolve("disk.qcow2");
        Qcow2Creator.create(imagePath, Qcow2CreateOptions.of(size));
        try (RawFileNode source = RawFileNode.open(backup, true);
                ControllableNode image = new ControllableNode(Qcow2Node.open(imagePath, Qcow2OpenOptions.readWrite()))) {
            RestoredClusters restored = RestoredClusters.create(imagePath, size, 65536, "raw:" + backup);
            CopyOnReadFilter filter = new CopyOnReadFilter(image, new CopyOnRead(source, image, restored));
            ControllableNode.Gate firstCommit = image.pauseNext(ControllableNode.Op.FLUSH);
            List<Future<byte[]>> reads = new ArrayList<>();
            try (ExecutorService guests = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < readers; i++) {
                    long offset = i * 65536L + 100;
                    reads.add(guests.submit(() -> {
                        byte[] out = new byte[4096];
                        filter.read(offset, ByteBuffer.wrap(out));
                        return out;
                    }));
                }
                firstCommit.awaitArrived();
                // every fill is marked: the other readers wait behind the first commit, or are about to
                await().atMost(Duration.ofSeconds(60)).until(() -> restored.restoredBytes() == size);
                firstCommit.open();
                for (int i = 0; i < readers; i++) {
                    int from = i * 65536 + 100;
                    assertArrayEquals(Arrays.copyOfRange(data, from, from + 4096), reads.get(i).get());
                }
            }
            int flushes = image.calls(ControllableNode.Op.FLUSH);
            assertTrue(flushes >= 1 && flushes <= 2, flushes + " image flushes for " + readers + " reads");
            assertTrue(RestoredClusters.load(imagePath, size).complete(), "every read's marks are durable");
        }
    }

    @Test
    void aDamagedOrForeignStateIsEioNamingTheFile() throws Exception {
        Path image = dir.resolve("disk.qcow2");
        RestoredClusters.create(image, SIZE, 65536, "chain:/b/full.qcow2");
        Path file = RestoredClusters.sidecarFor(image);
        byte[] good = Files.readAllBytes(file);
        byte[] flipped = good.clone();
        flipped[20] ^= 1;
        for (byte[] bad : new byte[][] {flipped, Arrays.copyOf(good, good.length - 3), new byte[0]}) {
            Files.write(file, bad);
            BlockIOException e = assertThrows(BlockIOException.class, () -> RestoredClusters.load(image, SIZE));
            assertEquals(Errno.EIO, e.errno());
            assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        }
        Files.write(file, good);
        BlockIOException resized = assertThrows(BlockIOException.class, () -> RestoredClusters.load(image, SIZE * 2));
        assertTrue(resized.getMessage().contains("bytes"), resized.getMessage());
    }
}
