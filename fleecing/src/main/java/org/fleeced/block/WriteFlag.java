package org.fleeced.block;

import java.util.EnumSet;
import java.util.Set;

/** Flags of write-like requests. A caller passes only flags the node's {@link Capabilities} allow. */
public enum WriteFlag {
    /** Force unit access: the data is on stable storage when the call returns. Needs {@link Capabilities#canFua()}. */
    FUA,
    /** {@link BlockNode#writeZeroes}: the range may be deallocated instead of written (NBD: no NO_HOLE flag). */
    MAY_UNMAP,
    /**
     * {@link BlockNode#writeZeroes}: fail with {@link Errno#ENOTSUP} unless zeroing is faster than
     * writing zeroes, and change nothing when failing. Needs {@link Capabilities#canFastZero()}.
     */
    FAST_ZERO;

    public static final Set<WriteFlag> NONE = Set.of();

    public static Set<WriteFlag> of(WriteFlag first, WriteFlag... rest) {
        return EnumSet.of(first, rest);
    }
}
