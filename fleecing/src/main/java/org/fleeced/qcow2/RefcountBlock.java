package org.fleeced.qcow2;

import java.nio.ByteBuffer;

/**
 * One refcount block: a cluster of {@code refcount_bits}-wide unsigned counts (qcow2 spec
 * "Host cluster management"). Widths below 8 bits pack several counts per byte, bit 0 being
 * the least significant; wider counts are big-endian.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
final class RefcountBlock extends CachedTable {
    private final byte[] data;
    private final int order;

    private RefcountBlock(long hostOffset, byte[] data, int order) {
        super(hostOffset);
        this.data = data;
        this.order = order;
    }

    static RefcountBlock empty(long hostOffset, Qcow2Layout layout) {
        RefcountBlock b = new RefcountBlock(hostOffset, new byte[layout.clusterSize()], layout.refcountOrder());
        b.markDirty();
        return b;
    }

    static RefcountBlock decode(long hostOffset, ByteBuffer cluster, Qcow2Layout layout) {
        byte[] data = new byte[cluster.remaining()];
        cluster.get(data);
        return new RefcountBlock(hostOffset, data, layout.refcountOrder());
    }

    long get(int index) {
        if (order < 3) {
            int bits = 1 << order;
            int perByte = 8 >> order;
            int shift = (index % perByte) * bits;
            return ((data[index / perByte] & 0xff) >>> shift) & ((1 << bits) - 1);
        }
        int bytes = 1 << (order - 3);
        long value = 0;
        for (int i = 0; i < bytes; i++) {
            value = (value << 8) | (data[index * bytes + i] & 0xff);
        }
        return value;
    }

    void set(int index, long value) {
        if (get(index) == value) {
            return;
        }
        if (order < 3) {
            int bits = 1 << order;
            int perByte = 8 >> order;
            int shift = (index % perByte) * bits;
            int mask = ((1 << bits) - 1) << shift;
            int b = data[index / perByte] & ~mask;
            data[index / perByte] = (byte) (b | ((int) value << shift) & mask);
        } else {
            int bytes = 1 << (order - 3);
            long v = value;
            for (int i = bytes - 1; i >= 0; i--) {
                data[index * bytes + i] = (byte) v;
                v >>>= 8;
            }
        }
        markDirty();
    }

    /** Index of the last nonzero count, or -1 when every count is zero. */
    int lastInUse() {
        int entries = (int) ((long) data.length * 8 >> order);
        for (int byteIndex = data.length - 1; byteIndex >= 0; byteIndex--) {
            if (data[byteIndex] != 0) {
                int last = Math.min(entries - 1, (int) (((long) byteIndex * 8 + 7) >> order));
                while (get(last) == 0) {
                    last--;
                }
                return last;
            }
        }
        return -1;
    }

    @Override
    ByteBuffer encode() {
        return ByteBuffer.wrap(data.clone());
    }
}
