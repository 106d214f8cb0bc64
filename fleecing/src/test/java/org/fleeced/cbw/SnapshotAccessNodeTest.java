package org.fleeced.cbw;

import static org.fleeced.block.BlockNodeContractTest.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The read side of the node contract for the fleece export, plus what it refuses. */
class SnapshotAccessNodeTest {
    static final int C = 64 << 10;
    static final int SIZE = 16 * C + 333;

    @TempDir
    Path dir;

    @Test
    void randomReadsAndWellFormedBlockStatusWhileTheGuestWrites() throws Exception {
        byte[] initial = pattern(SIZE, 3);
        Arrays.fill(initial, 2 * C, 6 * C, (byte) 0);
        long seed = 77;
        Random random = new Random(seed);
        try (CbwRig rig = CbwRig.create(dir, initial, C, OnCbwError.BREAK_SNAPSHOT)) {
            rig.sourceFile.discard(2 * C, 4 * C);
            for (int i = 0; i < 300; i++) {
                long offset = random.nextInt(SIZE);
                int length = (int) Math.min(SIZE - offset, random.nextInt(3 * C));
                String where = "seed " + seed + " op " + i;
                if (i % 3 == 0) {
                    rig.write(random.nextInt(SIZE - 100), pattern(100, i));
                }
                assertArrayEquals(Arrays.copyOfRange(initial, (int) offset, (int) offset + length),
                        rig.read(offset, length), where);
                List<Extent> status = rig.reader.blockStatus(offset, length);
                for (Extent e : status) {
                    if (e.zero()) {
                        assertArrayEquals(new byte[(int) e.length()], rig.read(e.offset(), (int) e.length()), where + " " + e);
                    }
                }
            }
            assertTrue(rig.reader.blockStatus(2 * C, 4 * C).getFirst().zero(), "holes at the snapshot point are reported");
        }
    }

    @Test
    void writesAreRefusedWithEpermAndReadOnlyWithoutDiscard() throws Exception {
        try (CbwRig rig = CbwRig.create(dir, pattern(SIZE, 1), C, OnCbwError.BREAK_SNAPSHOT)) {
            assertTrue(rig.reader.capabilities().canDiscard());
            assertFalse(rig.reader.capabilities().canZero() || rig.reader.capabilities().canFua());
            assertEquals(Errno.EPERM, assertThrows(BlockIOException.class,
                    () -> rig.reader.write(0, ByteBuffer.allocate(1), WriteFlag.NONE)).errno());
            assertEquals(Errno.EPERM, assertThrows(BlockIOException.class,
                    () -> rig.reader.writeZeroes(0, 1, WriteFlag.NONE)).errno());
            SnapshotAccessNode readOnly = new SnapshotAccessNode(new FleeceSnapshot(rig.state),
                    rig.sourceFile.capabilities(), false, "ro");
            assertFalse(readOnly.capabilities().canWrite());
        }
    }
}
