package org.fleeced.restore;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import org.fleeced.bitmaps.ByteRange;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;

/**
 * The guest side of an instant restore (QEMU's copy-on-read filter): the disk is usable while its
 * image is still being filled from a backup. The mechanism and its per-cluster states are in
 * {@link CopyOnRead}; this node maps each operation onto them:
 *
 * <ul>
 *   <li><b>read</b>: fill the unrestored clusters it touches (fetched once, written into the
 *       image, so the next read is local) and answer with the fetched bytes; the answer waits
 *       until the marks of what it read are durable (a group commit), so a crash never makes the
 *       restore fetch what the guest has seen. A source failure fails the read with EIO; a read
 *       of restored clusters never touches the source.</li>
 *   <li><b>write, writeZeroes</b>: the untouched part of an unrestored cluster at either end is
 *       fetched first (no lost bytes on partial-cluster writes), then the change lands and its
 *       clusters are restored. FAST_ZERO over unrestored clusters fails with ENOTSUP: fetching is
 *       not fast.</li>
 *   <li><b>discard</b>: forwarded over restored clusters only; an unrestored range keeps reading
 *       the source's data, which a discard allows.</li>
 *   <li><b>blockStatus</b>: the image's where restored, the source's one layer deeper elsewhere.</li>
 *   <li><b>flush</b>: flushes the image, then persists the restore state (a guest flush makes its
 *       writes durable, and so the marks that keep them from being fetched over).</li>
 * </ul>
 * Closing persists the state and closes the image, not the source: the restore owns it.
 */
public final class CopyOnReadFilter extends FilterNode {
    private final CopyOnRead state;

    /**
     * A filter over {@code below}, which is the restore's image itself: fills write into the image
     * directly, so nothing may sit between (a disk refuses jobs while it restores).
     */
    public CopyOnReadFilter(BlockNode below, CopyOnRead state) {
        super(below);
        if (below != state.image) {
            throw new IllegalArgumentException("copy-on-read must sit right on its image, not on " + below.describe());
        }
        this.state = state;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        state.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        long length = src.remaining();
        state.change(offset, length, () -> child.write(offset, src, flags));
        afterChange(flags);
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        if (flags.contains(WriteFlag.FAST_ZERO) && state.restored.anyUnrestored(offset, length)) {
            throw new BlockIOException(Errno.ENOTSUP, "fast zero over clusters not restored yet from "
                    + state.source.describe());
        }
        state.change(offset, length, () -> child.writeZeroes(offset, length, flags));
        afterChange(flags);
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        long end = offset + length;
        for (ByteRange run : state.restoredRuns(offset, length)) {
            long from = Math.max(run.offset(), offset);
            long to = Math.min(run.end(), end);
            if (to > from) {
                child.discard(from, to - from);
            }
        }
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        return state.blockStatus(offset, length);
    }

    @Override
    public void flush() throws BlockIOException {
        state.restored.persist(child);
    }

    @Override
    public String describe() {
        return "copy-on-read(" + child.describe() + " <- " + state.source.describe() + ")";
    }

    @Override
    public void close() throws BlockIOException {
        try {
            state.restored.persist(child);
        } finally {
            child.close();
        }
    }

    /** A FUA change is durable when it returns, and so must its marks be. */
    private void afterChange(Set<WriteFlag> flags) throws BlockIOException {
        if (flags.contains(WriteFlag.FUA)) {
            state.restored.persist(child);
        }
    }
}
