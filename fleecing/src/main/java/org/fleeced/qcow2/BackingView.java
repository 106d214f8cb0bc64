package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Extent;

/**
 * What an overlay sees of its backing chain: the backing node's bytes up to its size, and
 * zeroes past it (a backing file may be shorter than its overlay) or everywhere when there is no
 * backing node. Requests are widened to the backing node's request alignment when needed.
 *
 * <p>Thread-safe when the backing node is (every node is).
 */
final class BackingView implements AutoCloseable {
    /** The backing node, or null. Owned: closed with this view. */
    private final BlockNode backing;

    BackingView(BlockNode backing) {
        this.backing = backing;
    }

    boolean present() {
        return backing != null;
    }

    /** True when the backing chain supplies the byte at {@code guestOffset} (it would show through). */
    boolean showsThrough(long guestOffset) {
        return backing != null && guestOffset < backing.size();
    }

    void read(long offset, ByteBuffer dst) throws BlockIOException {
        int n = dst.remaining();
        long inBacking = backing == null ? 0 : Math.clamp(backing.size() - offset, 0, n);
        if (inBacking > 0) {
            readAligned(offset, dst.slice(dst.position(), (int) inBacking));
        }
        ByteBuffer rest = dst.slice(dst.position() + (int) inBacking, n - (int) inBacking);
        while (rest.hasRemaining()) {
            rest.put((byte) 0);
        }
        dst.position(dst.position() + n);
    }

    private void readAligned(long offset, ByteBuffer dst) throws BlockIOException {
        int align = backing.capabilities().requestAlignment();
        if (Alignment.isAligned(offset, align)
                && (Alignment.isAligned(dst.remaining(), align) || offset + dst.remaining() == backing.size())) {
            backing.read(offset, dst);
            return;
        }
        Alignment.Range r = Alignment.outward(offset, dst.remaining(), align);
        long end = Math.min(r.end(), backing.size());
        ByteBuffer bounce = ByteBuffer.allocate((int) (end - r.offset()));
        backing.read(r.offset(), bounce);
        dst.put(bounce.flip().position((int) (offset - r.offset())).limit((int) (offset - r.offset()) + dst.remaining()));
    }

    /**
     * Block status of the backing chain from {@code offset}, with depths counted from the overlay
     * (the backing node's own image is depth 2). Past the backing node's end: zeroes from nowhere.
     */
    List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        if (!showsThrough(offset)) {
            return List.of(new Extent(offset, length, false, true, 0));
        }
        long len = Math.min(length, backing.size() - offset);
        long alignedLen = len;
        int align = backing.capabilities().requestAlignment();
        if (!Alignment.isAligned(offset, align) || !Alignment.isAligned(len, align)) {
            // Ask about the aligned range around it; extents are clipped below.
            Alignment.Range r = Alignment.outward(offset, len, align);
            long end = Math.min(r.end(), backing.size());
            return clip(shift(backing.blockStatus(r.offset(), end - r.offset())), offset, len);
        }
        return shift(backing.blockStatus(offset, alignedLen));
    }

    private static List<Extent> shift(List<Extent> extents) {
        List<Extent> out = new ArrayList<>(extents.size());
        for (Extent e : extents) {
            out.add(new Extent(e.offset(), e.length(), e.data(), e.zero(), e.depth() == 0 ? 0 : e.depth() + 1));
        }
        return out;
    }

    private static List<Extent> clip(List<Extent> extents, long offset, long length) {
        List<Extent> out = new ArrayList<>();
        for (Extent e : extents) {
            long s = Math.max(e.offset(), offset);
            long t = Math.min(e.end(), offset + length);
            if (t > s) {
                out.add(e.withRange(s, t - s));
            }
        }
        if (out.isEmpty()) {
            out.add(new Extent(offset, length, true, false, 2));
        }
        return out;
    }

    @Override
    public void close() throws BlockIOException {
        if (backing != null) {
            backing.close();
        }
    }
}
