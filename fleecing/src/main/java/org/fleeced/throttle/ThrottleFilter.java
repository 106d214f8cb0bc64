package org.fleeced.throttle;

import java.nio.ByteBuffer;
import java.util.Set;

import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;

/**
 * A filter that makes every data request wait on a {@link Throttle} before it goes down (QEMU's
 * {@code throttle} node). Reads and writes are charged their length; writeZeroes and discard
 * move no data, so they are charged one operation and no bytes. flush and block status pass
 * freely. The throttle is shared, not owned: whoever made it changes its limits while requests
 * run.
 */
public final class ThrottleFilter extends FilterNode {
    private final Throttle throttle;

    public ThrottleFilter(BlockNode child, Throttle throttle) {
        super(child);
        this.throttle = throttle;
    }

    public Throttle throttle() {
        return throttle;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        throttle.admit(dst.remaining());
        child.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        throttle.admit(src.remaining());
        child.write(offset, src, flags);
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        throttle.admit(0);
        child.writeZeroes(offset, length, flags);
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        throttle.admit(0);
        child.discard(offset, length);
    }

    @Override
    public String describe() {
        return "throttle(" + child.describe() + ")";
    }
}
