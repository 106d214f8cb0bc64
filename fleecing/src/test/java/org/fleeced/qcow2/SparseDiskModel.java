package org.fleeced.qcow2;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * What a disk should read as, for differential tests over large, sparsely used disks: 64 KiB
 * pages created on first touch. Bytes a discard made unspecified are "unknown" until a read
 * settles them.
 */
final class SparseDiskModel {
    private static final int PAGE = 64 << 10;
    /** Content of never-touched bytes: the backing content, or zeroes. */
    private final byte[] base;
    private final Map<Long, byte[]> pages = new HashMap<>();
    private final Map<Long, BitSet> unknown = new HashMap<>();

    SparseDiskModel(byte[] base) {
        this.base = base;
    }

    private byte[] page(long index) {
        return pages.computeIfAbsent(index, i -> {
            byte[] p = new byte[PAGE];
            long start = i * PAGE;
            if (start < base.length) {
                System.arraycopy(base, (int) start, p, 0, (int) Math.min(PAGE, base.length - start));
            }
            return p;
        });
    }

    void write(long offset, byte[] data) {
        for (int i = 0; i < data.length; i++) {
            set(offset + i, data[i], false);
        }
    }

    void zero(long offset, long length) {
        for (long i = 0; i < length; i++) {
            set(offset + i, (byte) 0, false);
        }
    }

    void discard(long offset, long length) {
        for (long i = 0; i < length; i++) {
            long b = offset + i;
            unknown.computeIfAbsent(b / PAGE, k -> new BitSet()).set((int) (b % PAGE));
        }
    }

    private void set(long b, byte v, boolean keepUnknown) {
        page(b / PAGE)[(int) (b % PAGE)] = v;
        BitSet u = unknown.get(b / PAGE);
        if (u != null && !keepUnknown) {
            u.clear((int) (b % PAGE));
        }
    }

    byte get(long b) {
        byte[] p = pages.get(b / PAGE);
        if (p != null) {
            return p[(int) (b % PAGE)];
        }
        return b < base.length ? base[(int) b] : 0;
    }

    boolean isUnknown(long b) {
        BitSet u = unknown.get(b / PAGE);
        return u != null && u.get((int) (b % PAGE));
    }

    /** First byte where {@code actual} (read at {@code offset}) contradicts the model, or -1; settles unknown bytes. */
    long checkAndSettle(long offset, byte[] actual) {
        for (int i = 0; i < actual.length; i++) {
            long b = offset + i;
            if (isUnknown(b)) {
                set(b, actual[i], false);
            } else if (get(b) != actual[i]) {
                return b;
            }
        }
        return -1;
    }

    /** Page-aligned start offsets of every page touched. */
    Iterable<Long> touchedPages() {
        return pages.keySet().stream().map(i -> i * PAGE).sorted().toList();
    }

    static int pageSize() {
        return PAGE;
    }
}
