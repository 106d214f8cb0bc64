package org.fleeced.block;

import java.util.List;

/**
 * How many guest bytes of a node hold data: neither holes nor ranges known to read as zeroes.
 * It is what a full backup of the node reads, found by walking its block status from start to
 * end (QEMU's {@code bdrv_get_allocated_file_size} counts the host file instead; this counts
 * what a reader of the guest view would copy).
 */
public final class DataBytes {
    private DataBytes() {
    }

    /**
     * The data bytes of {@code node}. A failure of block status is the caller's to report: a
     * damaged image answers EIO here as it would to a reader.
     */
    public static long of(BlockNode node) throws BlockIOException {
        long total = 0;
        long size = node.size();
        long pos = 0;
        while (pos < size) {
            List<Extent> extents = node.blockStatus(pos, size - pos);
            for (Extent e : extents) {
                if (e.data() && !e.zero()) {
                    total += e.length();
                }
            }
            pos = extents.getLast().end();
        }
        return total;
    }
}
