package org.fleeced.restore;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.FilterNode;
import org.fleeced.block.WriteFlag;

/**
 * A restore source whose size is not a multiple of 512 (an NBD export may have any size; a qcow2
 * image may not), seen at the new image's size: rounded up to 512, as {@code qemu-img convert}
 * rounds its target, with the tail past the source's end reading as zeroes (a hole). Read-only:
 * a restore only reads its source.
 */
final class ZeroTailSource extends FilterNode {
    static final long SECTOR_BYTES = 512;

    private final long sizeBytes;

    private ZeroTailSource(BlockNode source, long sizeBytes) {
        super(source);
        this.sizeBytes = sizeBytes;
    }

    /** The size of the image a restore of a source of {@code sourceBytes} creates. */
    static long imageSize(long sourceBytes) {
        return Alignment.alignUp(sourceBytes, SECTOR_BYTES);
    }

    /**
     * {@code source} as a restore into an image of {@code imageBytes} reads it: itself when the
     * sizes agree, padded when the image is the source rounded up to 512; otherwise EINVAL (the
     * source is closed then).
     */
    static BlockNode fitted(BlockNode source, long imageBytes) throws BlockIOException {
        long size = source.size();
        if (size == imageBytes) {
            return source;
        }
        if (imageBytes > size && imageBytes == imageSize(size)) {
            return new ZeroTailSource(source, imageBytes);
        }
        source.close();
        throw new BlockIOException(Errno.EINVAL, "the restore source " + source.describe() + " has " + size
                + " bytes, the image " + imageBytes);
    }

    @Override
    public long size() {
        return sizeBytes;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        long inside = Math.max(0, Math.min(dst.remaining(), child.size() - offset));
        if (inside > 0) {
            child.read(offset, dst.slice(dst.position(), (int) inside));
        }
        for (int i = dst.position() + (int) inside; i < dst.limit(); i++) {
            dst.put(i, (byte) 0);
        }
        dst.position(dst.limit());
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        long sourceEnd = child.size();
        if (offset >= sourceEnd) {
            return List.of(new Extent(offset, length, false, true, 0));
        }
        List<Extent> extents = new ArrayList<>(child.blockStatus(offset, Math.min(length, sourceEnd - offset)));
        if (extents.getLast().end() == sourceEnd && offset + length > sourceEnd) {
            extents.add(new Extent(sourceEnd, offset + length - sourceEnd, false, true, 0));
        }
        return extents;
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        throw readOnly();
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        throw readOnly();
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        throw readOnly();
    }

    @Override
    public String describe() {
        return child.describe() + " (zeroes to " + sizeBytes + ")";
    }

    private BlockIOException readOnly() {
        return new BlockIOException(Errno.EROFS, "a restore source is read-only: " + child.describe());
    }
}
