package org.fleeced.block;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Base of filters: a node that owns a child and forwards what it does not change.
 *
 * <p>It forwards only the operations that cannot change data: size, capabilities, read,
 * blockStatus, flush and close. Every write-like operation is abstract here, on purpose: when
 * {@link BlockNode} gains a new mutating operation, every filter (copy-before-write above all)
 * stops compiling until it says what that operation means for it, instead of letting writes
 * slip past it.
 */
public abstract class FilterNode implements BlockNode {
    protected final BlockNode child;

    protected FilterNode(BlockNode child) {
        this.child = Objects.requireNonNull(child);
    }

    public BlockNode child() {
        return child;
    }

    @Override
    public long size() {
        return child.size();
    }

    @Override
    public Capabilities capabilities() {
        return child.capabilities();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        child.read(offset, dst);
    }

    @Override
    public abstract void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException;

    @Override
    public abstract void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException;

    @Override
    public abstract void discard(long offset, long length) throws BlockIOException;

    @Override
    public void flush() throws BlockIOException {
        child.flush();
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        return child.blockStatus(offset, length);
    }

    @Override
    public void close() throws BlockIOException {
        child.close();
    }
}
