package org.fleeced.qcow2;

import org.fleeced.block.file.PositionalFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;

/**
 * Opening a qcow2 image: read and validate the header, refuse what cannot be handled safely,
 * prepare a read-write image for writing (repair after a crash with lazy refcounts, clear
 * autoclear bits not understood), then open the backing chain.
 */
final class Qcow2Opener {
    /** Autoclear bits this driver understands and keeps. None yet: bitmaps are not handled here. */
    static final long KNOWN_AUTOCLEAR = 0;

    private Qcow2Opener() {
    }

    static Qcow2Node open(Path path, Qcow2OpenOptions options, Set<Path> chain) throws BlockIOException {
        return open(path, options, chain, KNOWN_AUTOCLEAR);
    }

    /**
     * Opens an image; a read-write open keeps the autoclear bits in {@code keptAutoclear} (those a
     * caller above this driver understands and maintains, such as the persistent bitmaps code)
     * and clears the other ones.
     */
    static Qcow2Node open(Path path, Qcow2OpenOptions options, Set<Path> chain, long keptAutoclear)
            throws BlockIOException {
        PositionalFile file = PositionalFile.open(path, options.readOnly(), true);
        try {
            Qcow2Header h = readHeader(file);
            checkFeatures(h, options.readOnly(), path);
            if (!options.readOnly()) {
                h = prepareForWriting(file, h, keptAutoclear);
            }
            Qcow2Metadata metadata = new Qcow2Metadata(file, h, options.readOnly(), options);
            BlockNode backing = openBacking(path, h, options, chain);
            return new Qcow2Node(path, file, metadata, backing);
        } catch (CorruptionException e) {
            closeAfterFailure(file, e);
            throw e.foundAtOpen();
        } catch (BlockIOException | RuntimeException e) {
            closeAfterFailure(file, e);
            throw e;
        }
    }

    private static void closeAfterFailure(PositionalFile file, Exception primary) {
        try {
            file.close();
        } catch (BlockIOException closeError) {
            primary.addSuppressed(closeError);
        }
    }

    static Qcow2Header readHeader(PositionalFile file) throws BlockIOException {
        long fileSize = file.size();
        ByteBuffer start = ByteBuffer.allocate((int) Math.min(Qcow2Header.V3_HEADER_LENGTH, fileSize));
        file.readFully(0, start);
        int clusterBits = Qcow2Header.peekClusterBits(start.flip());
        ByteBuffer first = ByteBuffer.allocate((int) Math.min(1L << clusterBits, fileSize));
        file.readFully(0, first);
        return Qcow2Header.parse(first.flip(), fileSize);
    }

    private static void checkFeatures(Qcow2Header h, boolean readOnly, Path path) throws BlockIOException {
        HeaderExtension names = h.extension(HeaderExtension.FEATURE_NAME_TABLE);
        long unsupported = h.features().unsupportedIncompatible();
        if (unsupported != 0) {
            throw new BlockIOException(Errno.ENOTSUP, path + " uses incompatible features this driver does not support: "
                    + FeatureBits.describeIncompatible(unsupported, names));
        }
        if (readOnly) {
            return;
        }
        if (h.features().has(FeatureBits.INCOMPAT_CORRUPT)) {
            throw new BlockIOException(Errno.EUCLEAN, path + " has the "
                    + FeatureBits.describeIncompatible(FeatureBits.INCOMPAT_CORRUPT, names)
                    + " set: its metadata is damaged; open it read-only or repair it (qemu-img check -r all)");
        }
        if (h.nbSnapshots() != 0) {
            throw new BlockIOException(Errno.ENOTSUP, path + " has " + h.nbSnapshots()
                    + " internal snapshots; such images can only be opened read-only");
        }
    }

    /** Repairs a dirty image and clears autoclear bits this driver does not understand. */
    private static Qcow2Header prepareForWriting(PositionalFile file, Qcow2Header h, long keptAutoclear)
            throws BlockIOException {
        Qcow2Header current = h;
        if (current.features().has(FeatureBits.INCOMPAT_DIRTY)) {
            current = Qcow2Repair.rebuildRefcounts(file, current);
            HeaderStore store = new HeaderStore(file, current);
            store.writeFeatures(current.features().withIncompatible(FeatureBits.INCOMPAT_DIRTY, false));
            current = store.header();
        }
        long autoclear = current.features().autoclear();
        if ((autoclear & ~keptAutoclear) != 0) {
            // Spec "autoclear_features": a writer that does not understand a bit clears it before
            // modifying the image. Bit 0 (bitmaps) included: the bitmaps extension is kept as an
            // unknown extension, which then tells QEMU the bitmaps are inconsistent, as the spec says.
            HeaderStore store = new HeaderStore(file, current);
            store.rewrite(current.withFeatures(current.features().withAutoclear(autoclear & keptAutoclear)));
            current = store.header();
        }
        return current;
    }

    private static BlockNode openBacking(Path path, Qcow2Header h, Qcow2OpenOptions options, Set<Path> chain)
            throws BlockIOException {
        if (options.noBacking() || (h.backingFile() == null && options.backingOverride() == null)) {
            return null;
        }
        chain.add(ImageOpener.realPath(path));
        if (options.backingOverride() != null) {
            // The caller chose this file and its format itself (a test, or a tool given it).
            return ImageOpener.openBacking(options.backingOverride(), null, chain, options.backingPolicy());
        }
        Path named = resolve(path, h.backingFile());
        if (h.backingFormat() == null) {
            throw new BackingRefusedException(BackingRefusedException.Reason.FORMAT_REQUIRED, named, path
                    + " names the backing file " + h.backingFile() + " without its format, and formats are never"
                    + " guessed; record it with: qemu-img rebase -u -F FORMAT -b " + h.backingFile() + " " + path);
        }
        Path admitted = options.backingPolicy().admit(path, named);
        return ImageOpener.openBacking(admitted, h.backingFormat(), chain, options.backingPolicy());
    }

    private static Path resolve(Path image, String backingName) throws BlockIOException {
        Path named;
        try {
            named = Path.of(backingName);
        } catch (java.nio.file.InvalidPathException e) {
            throw new BlockIOException(Errno.EUCLEAN, image + " names a backing file that cannot be a path ("
                    + e.getReason() + ")", e);
        }
        if (named.isAbsolute()) {
            return named;
        }
        Path dir = image.toAbsolutePath().getParent();
        return dir == null ? named : dir.resolve(named);
    }
}
