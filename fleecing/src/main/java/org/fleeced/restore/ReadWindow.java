package org.fleeced.restore;

import java.nio.ByteBuffer;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;

/**
 * The guest's read buffer while a fill serves it: the fill covers whole clusters, the read any
 * part of them, so each piece the fill handles lands in the buffer only where the two overlap.
 * Positions are absolute; the buffer's position is left alone (the reader moves it at the end).
 */
final class ReadWindow {
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 << 10).asReadOnlyBuffer();

    private final long offset;
    private final long end;
    private final ByteBuffer dst;
    private final int base;

    ReadWindow(long offset, ByteBuffer dst) {
        this.offset = offset;
        this.end = offset + dst.remaining();
        this.dst = dst;
        this.base = dst.position();
    }

    /** Copies the part of {@code data} (the bytes at {@code at}) inside the window; {@code data} is left as it was. */
    void put(long at, ByteBuffer data) {
        long from = Math.max(at, offset);
        long to = Math.min(at + data.remaining(), end);
        if (to > from) {
            dst.put(index(from), data, data.position() + (int) (from - at), (int) (to - from));
        }
    }

    /** Zeroes the part of {@code [from, to)} inside the window. */
    void zero(long from, long to) {
        long pos = Math.max(from, offset);
        long stop = Math.min(to, end);
        while (pos < stop) {
            int n = (int) Math.min(stop - pos, ZEROS.capacity());
            dst.put(index(pos), ZEROS, 0, n);
            pos += n;
        }
    }

    /** Reads the part of {@code [from, to)} inside the window from {@code image} (restored clusters). */
    void readImage(BlockNode image, long from, long to) throws BlockIOException {
        long start = Math.max(from, offset);
        long stop = Math.min(to, end);
        if (stop > start) {
            image.read(start, dst.slice(index(start), (int) (stop - start)));
        }
    }

    private int index(long at) {
        return base + (int) (at - offset);
    }
}
