package org.fleeced.restore;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.file.RawFileNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The restore state's sidecar: what persists, and that a damaged file is never trusted. */
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
