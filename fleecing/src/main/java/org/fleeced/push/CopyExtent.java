package org.fleeced.push;

/**
 * One piece of a {@link CopyPlan}: {@code [offset, offset + length)} of the snapshot, either data
 * to read and write, or a run that reads as zeroes and is written as zeroes without data.
 */
public record CopyExtent(long offset, long length, boolean zero) {

    public CopyExtent {
        if (offset < 0 || length <= 0) {
            throw new IllegalArgumentException("bad copy extent [" + offset + ", +" + length + ")");
        }
    }

    public long end() {
        return offset + length;
    }
}
