package org.fleeced.block;

/**
 * The block status of one run of guest bytes: {@code [offset, offset + length)}.
 *
 * @param offset    guest offset of the first byte
 * @param length    number of bytes, always &gt; 0
 * @param data      storage backs the range somewhere in the chain (NBD base:allocation: not HOLE)
 * @param zero      the range reads as zeroes, guaranteed (NBD base:allocation: ZERO)
 * @param depth     the layer that provides the range: 0 none (reads as zeroes from nowhere),
 *                  1 this node's own image, 2 its first backing file, and so on
 *                  (NBD {@code qemu:allocation-depth})
 */
public record Extent(long offset, long length, boolean data, boolean zero, int depth) {

    public Extent {
        if (offset < 0 || length <= 0 || offset + length < 0) {
            throw new IllegalArgumentException("bad extent [" + offset + ", +" + length + ")");
        }
        if (depth < 0) {
            throw new IllegalArgumentException("negative depth " + depth);
        }
    }

    /** Provided by this node's own image rather than a backing layer (QEMU's BDRV_BLOCK_ALLOCATED). */
    public boolean allocated() {
        return depth == 1;
    }

    public long end() {
        return offset + length;
    }

    /** True when both describe the same status, so that adjacent runs may be joined. */
    public boolean sameStatus(Extent other) {
        return data == other.data && zero == other.zero && depth == other.depth;
    }

    public Extent withRange(long newOffset, long newLength) {
        return new Extent(newOffset, newLength, data, zero, depth);
    }
}
