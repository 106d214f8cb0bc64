package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * The image's current header and the writes that change it. Single fields (feature bits, the
 * refcount table location) are rewritten in place so that a crash leaves either the old or the
 * new value; {@link #rewrite} re-encodes the whole first cluster, keeping unknown extensions.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 */
final class HeaderStore {
    private final PositionalFile file;
    /** The header as it is on disk. */
    private Qcow2Header header;

    HeaderStore(PositionalFile file, Qcow2Header header) {
        this.file = file;
        this.header = header;
    }

    Qcow2Header header() {
        return header;
    }

    /** Writes the incompatible and autoclear feature fields (version 3 only) and syncs. */
    void writeFeatures(FeatureBits features) throws BlockIOException {
        if (header.version() < 3) {
            throw new IllegalStateException("version 2 images have no feature bits");
        }
        ByteBuffer b = ByteBuffer.allocate(8).putLong(0, features.incompatible());
        file.writeFully(Qcow2Header.INCOMPATIBLE_FEATURES_OFFSET, b);
        file.writeFully(Qcow2Header.AUTOCLEAR_FEATURES_OFFSET, ByteBuffer.allocate(8).putLong(0, features.autoclear()));
        file.sync();
        header = header.withFeatures(features);
    }

    /** Points the header at a new refcount table (already written and synced) and syncs. */
    void writeRefcountTableLocation(long offset, int clusters) throws BlockIOException {
        ByteBuffer b = ByteBuffer.allocate(12).putLong(0, offset).putInt(8, clusters);
        file.writeFully(Qcow2Header.REFCOUNT_TABLE_FIELDS_OFFSET, b);
        file.sync();
        header = header.withRefcountTable(offset, clusters);
    }

    /**
     * Rewrites the first cluster from {@code newHeader} and syncs. When the extensions do not fit
     * (small clusters), the feature name table goes first: it is optional (spec "Feature name
     * table") and only names bits that every reader knows from the spec anyway.
     */
    void rewrite(Qcow2Header newHeader) throws BlockIOException {
        rewriteUnsynced(newHeader);
        file.sync();
    }

    /**
     * Rewrites the first cluster from {@code newHeader} (fitted as {@link #rewrite} fits it) without
     * syncing: for a caller that syncs with the metadata lock released. Every change the new header
     * refers to must be durable already; until the caller's sync, a crash leaves the old header or
     * the new one (one sector-sized write in practice; either references only durable clusters).
     */
    void rewriteUnsynced(Qcow2Header newHeader) throws BlockIOException {
        Qcow2Header fitted = newHeader;
        ByteBuffer encoded;
        try {
            encoded = fitted.encode();
        } catch (BlockIOException e) {
            if (e.errno() != Errno.ENOSPC || fitted.extension(HeaderExtension.FEATURE_NAME_TABLE) == null) {
                throw e;
            }
            List<HeaderExtension> kept = new ArrayList<>(fitted.extensions());
            kept.removeIf(x -> x.type() == HeaderExtension.FEATURE_NAME_TABLE);
            fitted = fitted.withExtensions(kept);
            encoded = fitted.encode();
        }
        file.writeFully(0, encoded.limit(usedBytes(fitted, encoded)));
        header = fitted;
    }

    void replaceExtensions(List<HeaderExtension> extensions) throws BlockIOException {
        rewrite(header.withExtensions(extensions));
    }

    /** Only the bytes up to the end of the backing name (or extension area) are written. */
    private static int usedBytes(Qcow2Header h, ByteBuffer encoded) {
        long backingOffset = encoded.getLong(8);
        if (backingOffset != 0) {
            return (int) backingOffset + encoded.getInt(16);
        }
        int pos = h.headerLength();
        for (HeaderExtension e : h.extensions()) {
            pos += e.encodedSize();
        }
        return pos + 8;
    }
}
