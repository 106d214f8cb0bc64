package org.fleeced.block.file;

import static org.fleeced.block.BlockNodeContractTest.pattern;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RawFileNodeTest {
    private static final int MIB = 1 << 20;
    @TempDir
    Path dir;

    @Test
    void discardFreesBlocksWhileItsNeighboursKeepTheirBytes() throws Exception {
        Path file = dir.resolve("disk.raw");
        try (RawFileNode node = RawFileNode.create(file, 8 * MIB)) {
            node.write(0, ByteBuffer.wrap(pattern(8 * MIB, 1)), WriteFlag.NONE);
            node.flush();
            long before = AllocatedBlocks.of(file);
            assumeTrue(before >= 8 * MIB, "the file system does not allocate written blocks");

            node.discard(MIB + 100, 4 * MIB);
            node.flush();
            long after = AllocatedBlocks.of(file);

            assertTrue(before - after >= 3 * MIB, "discard freed only " + (before - after) + " bytes");
            byte[] head = read(node, 0, MIB + 100);
            byte[] tail = read(node, 5 * MIB + 100, 3 * MIB - 100);
            assertArrayEquals(slice(pattern(8 * MIB, 1), 0, MIB + 100), head);
            assertArrayEquals(slice(pattern(8 * MIB, 1), 5 * MIB + 100, 3 * MIB - 100), tail);
        }
    }

    @Test
    void writeZeroesWithMayUnmapPunchesAndWithoutKeepsAllocation() throws Exception {
        Path file = dir.resolve("disk.raw");
        try (RawFileNode node = RawFileNode.create(file, 8 * MIB)) {
            node.write(0, ByteBuffer.wrap(pattern(8 * MIB, 2)), WriteFlag.NONE);
            node.flush();
            long full = AllocatedBlocks.of(file);
            node.writeZeroes(0, 2 * MIB, WriteFlag.NONE);
            assertEquals(full, AllocatedBlocks.of(file), "zeroing without MAY_UNMAP deallocated");
            node.writeZeroes(2 * MIB, 2 * MIB, Set.of(WriteFlag.MAY_UNMAP));
            assertTrue(AllocatedBlocks.of(file) <= full - 2 * MIB, "MAY_UNMAP did not punch");
            assertArrayEquals(new byte[4 * MIB], read(node, 0, 4 * MIB));
        }
    }

    @Test
    void blockStatusReportsHolesAndData() throws Exception {
        Path file = dir.resolve("disk.raw");
        try (RawFileNode node = RawFileNode.create(file, 8 * MIB)) {
            node.write(2 * MIB, ByteBuffer.wrap(pattern(MIB, 3)), WriteFlag.NONE);
            List<Extent> extents = node.blockStatus(0, 8 * MIB);
            assertEquals(new Extent(0, 2 * MIB, false, true, 1), extents.get(0));
            assertEquals(new Extent(2 * MIB, MIB, true, false, 1), extents.get(1));
            assertEquals(new Extent(3 * MIB, 5 * MIB, false, true, 1), extents.get(2));
            assertEquals(3, extents.size());
            List<Extent> inside = node.blockStatus(2 * MIB + 10, 20);
            assertEquals(List.of(new Extent(2 * MIB + 10, 20, true, false, 1)), inside);
        }
    }

    /**
     * A file opened without holes answers block status without asking the file system; a hole
     * this node punches later is still reported, at once.
     */
    @Test
    void aHoleDiscardedInAFullyAllocatedFileIsReportedAtOnce() throws Exception {
        Path file = dir.resolve("disk.raw");
        try (RawFileNode node = RawFileNode.create(file, 8 * MIB)) {
            node.write(0, ByteBuffer.wrap(pattern(8 * MIB, 4)), WriteFlag.NONE);
            node.flush();
        }
        try (RawFileNode node = RawFileNode.open(file, false)) {
            assertEquals(List.of(new Extent(0, 8 * MIB, true, false, 1)), node.blockStatus(0, 8 * MIB));
            long allocated = AllocatedBlocks.of(file);
            node.discard(2 * MIB, MIB);
            assumeTrue(AllocatedBlocks.of(file) < allocated, "the file system does not punch holes");
            List<Extent> extents = node.blockStatus(0, 8 * MIB);
            assertEquals(new Extent(2 * MIB, MIB, false, true, 1), extents.get(1), extents.toString());
        }
        try (RawFileNode node = RawFileNode.open(file, true)) {
            assertEquals(new Extent(2 * MIB, MIB, false, true, 1), node.blockStatus(0, 8 * MIB).get(1),
                    "a hole the file had when opened");
        }
    }

    @Test
    void aSecondExclusiveOpenIsRefused() throws Exception {
        Path file = dir.resolve("disk.raw");
        RawFileNode.create(file, MIB).close();
        try (RawFileNode first = RawFileNode.openExclusive(file)) {
            BlockIOException e = assertThrows(BlockIOException.class, () -> RawFileNode.openExclusive(file));
            assertEquals(Errno.EPERM, e.errno());
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
            assertTrue(e.getMessage().contains("lock (this daemon"), "the holder is named: " + e.getMessage());
            assertFalse(first.capabilities().requestAlignment() != 1);
        }
    }

    /** Another process's POSIX lock (python's lockf): the refusal names that process, never "(null)". */
    @Test
    void aLockHeldByAnotherProcessNamesIt() throws Exception {
        Path file = dir.resolve("locked.raw");
        RawFileNode.create(file, MIB).close();
        Process holder;
        try {
            holder = new ProcessBuilder("python3", "-c", "import fcntl, sys; f = open(sys.argv[1], 'r+');"
                    + " fcntl.lockf(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()", file.toString())
                    .redirectErrorStream(true).start();
        } catch (IOException noPython) {
            assumeTrue(false, "python3 is not installed: " + noPython);
            return;
        }
        try (BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream()))) {
            assertEquals("locked", out.readLine());
            BlockIOException e = assertThrows(BlockIOException.class, () -> RawFileNode.openExclusive(file));
            assertEquals(Errno.EPERM, e.errno());
            assertTrue(e.getMessage().contains("lock (process " + holder.pid() + " (python3))"), e.getMessage());
        } finally {
            holder.getOutputStream().close();
            holder.waitFor();
        }
    }

    @Test
    void readOnlyNodesAdvertiseNoWrites() throws Exception {
        Path file = dir.resolve("disk.raw");
        RawFileNode.create(file, MIB).close();
        try (RawFileNode node = RawFileNode.open(file, true)) {
            assertFalse(node.capabilities().canWrite());
            assertFalse(node.capabilities().canDiscard());
            assertArrayEquals(new byte[4096], read(node, 0, 4096));
        }
    }

    private static byte[] read(RawFileNode node, long offset, int length) throws BlockIOException {
        ByteBuffer buf = ByteBuffer.allocate(length);
        node.read(offset, buf);
        return buf.array();
    }

    private static byte[] slice(byte[] a, int from, int len) {
        byte[] out = new byte[len];
        System.arraycopy(a, from, out, 0, len);
        return out;
    }
}
