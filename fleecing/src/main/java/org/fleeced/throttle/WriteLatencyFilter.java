package org.fleeced.throttle;

import java.nio.ByteBuffer;
import java.util.Set;

import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;

/**
 * Records how long each guest write and writeZeroes takes below it (copy-before-write waits
 * included) in a {@link LatencyWindow}: what adaptive backup reading watches. Failed requests
 * are recorded too: a guest waited for them all the same. Everything else passes untouched.
 */
public final class WriteLatencyFilter extends FilterNode {
    private final LatencyWindow window;

    public WriteLatencyFilter(BlockNode child, LatencyWindow window) {
        super(child);
        this.window = window;
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        long started = window.now();
        try {
            child.write(offset, src, flags);
        } finally {
            window.record(window.now() - started);
        }
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        long started = window.now();
        try {
            child.writeZeroes(offset, length, flags);
        } finally {
            window.record(window.now() - started);
        }
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        child.discard(offset, length);
    }

    @Override
    public String describe() {
        return "write-latency(" + child.describe() + ")";
    }
}
