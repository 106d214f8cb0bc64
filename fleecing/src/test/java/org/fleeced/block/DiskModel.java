package org.fleeced.block;

import java.util.BitSet;

/**
 * The reference a node is checked against: the bytes a disk must hold, plus which bytes are
 * unspecified (after a discard) and may read as anything until rewritten.
 */
public final class DiskModel {
    private final byte[] bytes;
    private final BitSet unspecified = new BitSet();

    public DiskModel(int sizeBytes) {
        this.bytes = new byte[sizeBytes];
    }

    public static DiskModel copyOf(DiskModel other) {
        DiskModel copy = new DiskModel(other.bytes.length);
        System.arraycopy(other.bytes, 0, copy.bytes, 0, other.bytes.length);
        copy.unspecified.or(other.unspecified);
        return copy;
    }

    public int size() {
        return bytes.length;
    }

    public synchronized void write(long offset, byte[] data) {
        System.arraycopy(data, 0, bytes, (int) offset, data.length);
        unspecified.clear((int) offset, (int) offset + data.length);
    }

    public synchronized void zero(long offset, long length) {
        java.util.Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
        unspecified.clear((int) offset, (int) (offset + length));
    }

    public synchronized void discard(long offset, long length) {
        unspecified.set((int) offset, (int) (offset + length));
    }

    /** Makes a range specified again with the given bytes: what a node showed after a discard. */
    public synchronized void settle(long offset, byte[] actual) {
        System.arraycopy(actual, 0, bytes, (int) offset, actual.length);
        unspecified.clear((int) offset, (int) offset + actual.length);
    }

    public synchronized byte get(long offset) {
        return bytes[(int) offset];
    }

    public synchronized byte[] slice(long offset, int length) {
        byte[] out = new byte[length];
        System.arraycopy(bytes, (int) offset, out, 0, length);
        return out;
    }

    /** The first byte of {@code actual} (read at offset) that differs from a specified model byte, or -1. */
    public synchronized long firstMismatch(long offset, byte[] actual) {
        for (int i = 0; i < actual.length; i++) {
            int at = (int) offset + i;
            if (!unspecified.get(at) && bytes[at] != actual[i]) {
                return at;
            }
        }
        return -1;
    }

    /** True when some specified byte of the range is non-zero. */
    public synchronized boolean hasNonZero(long offset, long length) {
        for (int at = (int) offset; at < offset + length; at++) {
            if (!unspecified.get(at) && bytes[at] != 0) {
                return true;
            }
        }
        return false;
    }
}
