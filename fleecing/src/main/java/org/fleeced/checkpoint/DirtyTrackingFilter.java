package org.fleeced.checkpoint;

import java.nio.ByteBuffer;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;

/**
 * Records every guest change (write, zero write, discard) in the recording checkpoint of its
 * disk, then forwards it.
 *
 * <p>It marks the range <em>before</em> forwarding: a change that fails or is cut short by a
 * crash leaves a bit set for bytes that may not have changed, never a changed byte without its
 * bit. A discard is recorded too, since afterwards the range may read differently. Reads,
 * blockStatus and flush pass straight through.
 */
public final class DirtyTrackingFilter extends FilterNode {
    private final CheckpointSet checkpoints;

    public DirtyTrackingFilter(BlockNode child, CheckpointSet checkpoints) {
        super(child);
        if (child.size() != checkpoints.sizeBytes()) {
            throw new IllegalArgumentException("checkpoints cover " + checkpoints.sizeBytes() + " bytes, the disk has "
                    + child.size());
        }
        this.checkpoints = checkpoints;
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        checkpoints.track(offset, src.remaining());
        child.write(offset, src, flags);
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        checkpoints.track(offset, length);
        child.writeZeroes(offset, length, flags);
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        checkpoints.track(offset, length);
        child.discard(offset, length);
    }

    @Override
    public String describe() {
        return "dirty-tracking(" + child.describe() + ")";
    }
}
