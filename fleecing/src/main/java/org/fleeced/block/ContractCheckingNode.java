package org.fleeced.block;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A decorator that checks every call against the {@link BlockNode} contract, in both directions
 * (nbdkit's backend.c): the caller's preconditions raise {@link IllegalArgumentException} or
 * {@link IllegalStateException}; an implementation that breaks its postconditions raises
 * {@link IllegalStateException} naming the node. Tests wrap every node and filter stack under
 * test in it; it costs a few comparisons per call, so production stacks may use it too.
 */
public final class ContractCheckingNode implements BlockNode {
    private final BlockNode node;
    private final AtomicBoolean closed = new AtomicBoolean();

    public ContractCheckingNode(BlockNode node) {
        this.node = node;
    }

    public BlockNode unwrap() {
        return node;
    }

    @Override
    public long size() {
        return node.size();
    }

    @Override
    public Capabilities capabilities() {
        return node.capabilities();
    }

    @Override
    public String describe() {
        return node.describe();
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        int length = dst.remaining();
        checkRange("read", offset, length);
        checkMax("read", length);
        int limit = dst.limit();
        node.read(offset, dst);
        if (dst.position() != limit) {
            throw broken("read of " + length + " bytes left the buffer at " + dst.position() + " of " + limit);
        }
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        int length = src.remaining();
        checkWritable("write");
        checkRange("write", offset, length);
        checkMax("write", length);
        checkFlags("write", flags, Set.of(WriteFlag.FUA));
        node.write(offset, src, flags);
        if (src.hasRemaining()) {
            throw broken("write of " + length + " bytes left " + src.remaining() + " unconsumed");
        }
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        checkWritable("writeZeroes");
        checkRange("writeZeroes", offset, length);
        checkFlags("writeZeroes", flags, Set.of(WriteFlag.FUA, WriteFlag.MAY_UNMAP, WriteFlag.FAST_ZERO));
        try {
            node.writeZeroes(offset, length, flags);
        } catch (BlockIOException e) {
            if (e.errno() == Errno.ENOTSUP && !flags.contains(WriteFlag.FAST_ZERO)) {
                throw broken("writeZeroes failed with ENOTSUP without FAST_ZERO: " + e.getMessage());
            }
            throw e;
        }
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        checkOpen("discard");
        if (!node.capabilities().canWrite() && !node.capabilities().canDiscard()) {
            throw new IllegalStateException("discard on read-only node " + describe() + " that takes no discards");
        }
        checkRange("discard", offset, length);
        node.discard(offset, length);
    }

    @Override
    public void flush() throws BlockIOException {
        checkOpen("flush");
        node.flush();
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        checkRange("blockStatus", offset, length);
        List<Extent> extents = node.blockStatus(offset, length);
        if (length == 0) {
            return extents;
        }
        if (extents == null || extents.isEmpty()) {
            throw broken("blockStatus(" + offset + ", " + length + ") returned no extent");
        }
        long expected = offset;
        for (Extent e : extents) {
            if (e.offset() != expected) {
                throw broken("blockStatus extent " + e + " does not start at " + expected);
            }
            expected = e.end();
        }
        if (expected > offset + length) {
            throw broken("blockStatus(" + offset + ", " + length + ") reached past the range, to " + expected);
        }
        return extents;
    }

    @Override
    public void close() throws BlockIOException {
        if (!closed.compareAndSet(false, true)) {
            throw new IllegalStateException(describe() + ": closed twice");
        }
        node.close();
    }

    private void checkOpen(String op) {
        if (closed.get()) {
            throw new IllegalStateException(op + " on closed node " + describe());
        }
    }

    private void checkWritable(String op) {
        checkOpen(op);
        if (!node.capabilities().canWrite()) {
            throw new IllegalStateException(op + " on read-only node " + describe());
        }
    }

    private void checkRange(String op, long offset, long length) {
        checkOpen(op);
        long size = node.size();
        if (offset < 0 || length < 0 || offset > size || length > size - offset) {
            throw new IllegalArgumentException(op + " [" + offset + ", +" + length + ") outside " + describe()
                    + " of " + size + " bytes");
        }
        int align = node.capabilities().requestAlignment();
        boolean endsAtSize = offset + length == size;
        if (!Alignment.isAligned(offset, align) || (!Alignment.isAligned(length, align) && !endsAtSize)) {
            throw new IllegalArgumentException(op + " [" + offset + ", +" + length + ") not aligned to " + align);
        }
    }

    private void checkMax(String op, int length) {
        if (length > node.capabilities().maxRequestBytes()) {
            throw new IllegalArgumentException(op + " of " + length + " bytes exceeds the maximum "
                    + node.capabilities().maxRequestBytes());
        }
    }

    private void checkFlags(String op, Set<WriteFlag> flags, Set<WriteFlag> allowed) {
        Capabilities caps = node.capabilities();
        for (WriteFlag f : flags) {
            boolean advertised = switch (f) {
                case FUA -> caps.canFua();
                case MAY_UNMAP -> true;
                case FAST_ZERO -> caps.canFastZero();
            };
            if (!allowed.contains(f) || !advertised) {
                throw new IllegalArgumentException(op + " with flag " + f + " that " + describe() + " does not allow");
            }
        }
    }

    private IllegalStateException broken(String what) {
        return new IllegalStateException(describe() + " broke the BlockNode contract: " + what);
    }
}
