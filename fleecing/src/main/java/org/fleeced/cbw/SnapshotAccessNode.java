package org.fleeced.cbw;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Capabilities;
import org.fleeced.block.Errno;
import org.fleeced.block.Extent;
import org.fleeced.block.WriteFlag;

/**
 * A {@link SnapshotAccess} as a {@link BlockNode}, for the fleece export.
 *
 * <p>It never changes the point-in-time data. Without discard it is read-only
 * ({@link Capabilities#canWrite()} false). With discard allowed, {@link Capabilities} has no
 * "discard only" shape, so it advertises canWrite with canDiscard and nothing else (no zero, no
 * FUA): the NBD layer then exports it without the read-only flag and accepts TRIM, while write
 * and writeZeroes fail with EPERM (DESIGN.md section 7). flush has nothing to do; close does not
 * end the job (the job owns the snapshot and closes it in {@code finish}).
 */
public final class SnapshotAccessNode implements BlockNode {
    private final SnapshotAccess snapshot;
    private final Capabilities capabilities;
    private final String name;

    /**
     * @param sourceCapabilities the image's capabilities: alignment and request sizes are kept
     * @param allowDiscard       whether the reader may discard (NBD TRIM)
     */
    public SnapshotAccessNode(SnapshotAccess snapshot, Capabilities sourceCapabilities, boolean allowDiscard,
            String name) {
        this.snapshot = snapshot;
        this.name = name;
        Capabilities readOnly = sourceCapabilities.readOnly();
        this.capabilities = allowDiscard
                ? new Capabilities(true, false, false, true, readOnly.canFlush(), false,
                        readOnly.requestAlignment(), readOnly.preferredSize(), readOnly.maxRequestBytes())
                : readOnly;
    }

    @Override
    public long size() {
        return snapshot.size();
    }

    @Override
    public Capabilities capabilities() {
        return capabilities;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws BlockIOException {
        snapshot.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
        throw readOnly("write");
    }

    @Override
    public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
        throw readOnly("writeZeroes");
    }

    @Override
    public void discard(long offset, long length) throws BlockIOException {
        if (!capabilities.canDiscard()) {
            throw readOnly("discard");
        }
        snapshot.discard(offset, length);
    }

    @Override
    public void flush() {
        // nothing is ever written through this node
    }

    @Override
    public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
        return snapshot.blockStatus(offset, length);
    }

    @Override
    public String describe() {
        return "snapshot-access(" + name + ")";
    }

    @Override
    public void close() {
        // the fleecing job owns the snapshot and ends it
    }

    private BlockIOException readOnly(String op) {
        return new BlockIOException(Errno.EPERM, op + " refused: " + describe() + " is a point-in-time snapshot");
    }
}
