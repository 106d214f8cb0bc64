package org.fleeced.tracking;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;

/**
 * Records every guest change (write, zero write, discard) with a {@link ChangeRecorder}, then
 * forwards it.
 * <pre>
 *   writable export ──▶ DirtyTrackingFilter ──▶ [copy-before-write] ──▶ image
 *                              │ recordChange (before forwarding)
 *                              ▼
 *                       ChangeRecorder: intent log mark (durable), then every enabled bitmap
 * </pre>
 *
 * <p>The range is recorded <em>before</em> the change is forwarded: a change that fails or is cut
 * short by a crash leaves bits set for bytes that may not have changed, never a changed byte
 * without its bit. A discard is recorded too, since afterwards the range may read differently.
 * Reads and blockStatus pass straight through; flush forwards, then lets the recorder store its
 * bitmaps when it wants to; close lets the recorder store them before the child closes.
 */
public final class DirtyTrackingFilter extends FilterNode {
    private final ChangeRecorder recorder;
    /** Set by the first close; later close calls do nothing. */
    private volatile boolean closed;

    public DirtyTrackingFilter(BlockNode child, ChangeRecorder recorder) {
        super(child);
        this.recorder = Objects.requireNonNull(recorder);
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        if (src.hasRemaining()) {
            recorder.recordChange(offset, src.remaining());
        }
        child.write(offset, src, flags);
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        if (length > 0) {
            recorder.recordChange(offset, length);
        }
        child.writeZeroes(offset, length, flags);
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        if (length > 0) {
            recorder.recordChange(offset, length);
        }
        child.discard(offset, length);
    }

    @Override
    public void flush() throws BlockIOException {
        child.flush();
        recorder.afterFlush();
    }

    @Override
    public void close() throws BlockIOException {
        if (closed) {
            return;
        }
        closed = true;
        try {
            recorder.beforeClose();
        } finally {
            child.close();
        }
    }

    @Override
    public String describe() {
        return "dirty-tracking(" + child.describe() + ")";
    }
}
