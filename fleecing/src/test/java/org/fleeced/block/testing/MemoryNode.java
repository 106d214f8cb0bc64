package org.fleeced.block.testing;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Set;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Capabilities;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;

/**
 * A small in-memory node for server tests: bytes in an array, allocation tracked per 4 KiB page
 * (never-written and discarded pages are holes that read as zeroes). To make its calls fail,
 * wrap it in a {@link ControllableNode}.
 */
public final class MemoryNode implements BlockNode {
    public static final int PAGE = 4096;

    private final byte[] bytes;
    private final BitSet allocated = new BitSet();
    private final Capabilities capabilities;

    public MemoryNode(int sizeBytes, boolean writable, int alignment) {
        this.bytes = new byte[sizeBytes];
        this.capabilities = writable
                ? new Capabilities(true, true, true, true, true, true, alignment, 4096, 32 << 20)
                : new Capabilities(false, false, false, false, true, false, alignment, 4096, 32 << 20);
    }

    public synchronized byte[] contents(int offset, int length) {
        return Arrays.copyOfRange(bytes, offset, offset + length);
    }

    @Override
    public long size() {
        return bytes.length;
    }

    @Override
    public Capabilities capabilities() {
        return capabilities;
    }

    @Override
    public synchronized void read(long offset, ByteBuffer dst) {
        dst.put(bytes, (int) offset, dst.remaining());
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src, Set<WriteFlag> flags) {
        int length = src.remaining();
        src.get(bytes, (int) offset, length);
        allocated.set((int) (offset / PAGE), (int) ((offset + length + PAGE - 1) / PAGE));
    }

    @Override
    public synchronized void writeZeroes(long offset, long length, Set<WriteFlag> flags) {
        Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
        if (flags.contains(WriteFlag.MAY_UNMAP)) {
            deallocateInward(offset, length);
        }
    }

    @Override
    public synchronized void discard(long offset, long length) {
        long start = (offset + PAGE - 1) / PAGE * PAGE;
        long end = (offset + length) / PAGE * PAGE;
        if (end > start) {
            Arrays.fill(bytes, (int) start, (int) end, (byte) 0);
        }
        deallocateInward(offset, length);
    }

    private void deallocateInward(long offset, long length) {
        int first = (int) ((offset + PAGE - 1) / PAGE);
        int last = (int) ((offset + length) / PAGE);
        if (last > first) {
            allocated.clear(first, last);
        }
    }

    @Override
    public void flush() {
    }

    @Override
    public synchronized List<Extent> blockStatus(long offset, long length) {
        List<Extent> extents = new ArrayList<>();
        long position = offset;
        long end = offset + length;
        while (position < end) {
            int page = (int) (position / PAGE);
            boolean data = allocated.get(page);
            int nextPage = data ? allocated.nextClearBit(page) : allocated.nextSetBit(page);
            long runEnd = nextPage < 0 ? end : Math.min(end, (long) nextPage * PAGE);
            runEnd = Math.min(runEnd, bytes.length);
            extents.add(new Extent(position, runEnd - position, data, !data, data ? 1 : 0));
            position = runEnd;
        }
        return extents;
    }

    @Override
    public String describe() {
        return "memory(" + bytes.length + ")";
    }

    @Override
    public void close() {
    }
}
