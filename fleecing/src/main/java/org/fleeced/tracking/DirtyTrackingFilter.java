package org.fleeced.tracking;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;

/**
 * Records every guest change (write, zero write, discard) in the recording checkpoint of its
 * disk, or with any other {@link ChangeRecorder} (the persistent bitmaps of a qcow2 image, which
 * first mark the change durably in their write-intent log), then forwards it.
 *
 * <p>It marks the range <em>before</em> forwarding: a change that fails or is cut short by a
 * crash leaves a bit set for bytes that may not have changed, never a changed byte without its
 * bit. A discard is recorded too, since afterwards the range may read differently. Reads and
 * blockStatus pass straight through; flush forwards, then lets the recorder store its bitmaps if
 * it wants to. Close only closes the child: the recorder's clean close belongs to the disk that
 * owns both (package {@code org.fleeced.disk}), since a job's swap replaces this filter while
 * the recorder lives on.
 */
public final class DirtyTrackingFilter extends FilterNode {
    private final ChangeRecorder recorder;

    /** Records with {@code recorder}: the intent-log hook of persistent bitmaps. */
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
    public String describe() {
        return "dirty-tracking(" + child.describe() + ")";
    }
}
