package org.fleeced.qcow2;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.file.RawFileNode;

/**
 * Opens a disk image of either format, detected by the qcow2 magic, together with its backing
 * chain. Backing files are opened read-only. A chain deeper than {@link #MAX_CHAIN_DEPTH} or one
 * that names an image already in the chain (a loop) is refused.
 */
public final class ImageOpener {
    /** QEMU allows chains this deep too. */
    public static final int MAX_CHAIN_DEPTH = 64;

    /** The formats this opener knows, named as in the backing format header extension. */
    public enum Format { QCOW2, RAW }

    private ImageOpener() {
    }

    /** Opens {@code path} as qcow2 or raw; read-write images are locked against a second writer. */
    public static BlockNode open(Path path, boolean readOnly) throws BlockIOException {
        return open(path, detect(path), readOnly);
    }

    /** Opens {@code path} in the given format (the caller knows it, or asked the user). */
    public static BlockNode open(Path path, Format format, boolean readOnly) throws BlockIOException {
        return switch (format) {
            case QCOW2 -> Qcow2Opener.open(path, readOnly ? Qcow2OpenOptions.readOnlyDefaults()
                    : Qcow2OpenOptions.readWrite(), new HashSet<>());
            case RAW -> readOnly ? RawFileNode.open(path, true) : RawFileNode.openExclusive(path);
        };
    }

    /** Detects the format from the first four bytes. */
    public static Format detect(Path path) throws BlockIOException {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] magic = in.readNBytes(4);
            return magic.length == 4 && ByteBuffer.wrap(magic).getInt() == Qcow2Header.MAGIC ? Format.QCOW2 : Format.RAW;
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot open image " + path + ": " + e, e);
        }
    }

    /**
     * Opens a member of a backing chain read-only, in {@code format} (null only for a file the
     * caller chose itself, whose format is then detected), with the chain's {@code policy}.
     */
    /**
     * What the file's first bytes look like, for a person deciding its format ("qcow2 v3", "raw");
     * never used to choose a format by itself.
     */
    public static String describe(Path path) throws BlockIOException {
        try (InputStream in = Files.newInputStream(path)) {
            ByteBuffer start = ByteBuffer.wrap(in.readNBytes(8));
            if (start.remaining() == 8 && start.getInt(0) == Qcow2Header.MAGIC) {
                return "qcow2 v" + start.getInt(4);
            }
            return "raw (no qcow2 header)";
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot open image " + path + ": " + e, e);
        }
    }

    static BlockNode openBacking(Path path, String format, Set<Path> chain, BackingPolicy policy)
            throws BlockIOException {
        Path real = realPath(path);
        if (chain.contains(real)) {
            throw new BlockIOException(Errno.EUCLEAN, "backing chain loops: " + path + " is already in the chain");
        }
        if (chain.size() >= MAX_CHAIN_DEPTH) {
            throw new BlockIOException(Errno.EUCLEAN, "backing chain deeper than " + MAX_CHAIN_DEPTH + " at " + path);
        }
        if (Files.isDirectory(path)) {
            // A directory opens read-only on Linux and then fails every read and seek.
            throw new BlockIOException(Errno.EUCLEAN, "backing file " + path + " is a directory");
        }
        Format f = format == null ? detect(path) : parseFormat(format, path);
        return switch (f) {
            case QCOW2 -> Qcow2Opener.open(path, Qcow2OpenOptions.readOnlyDefaults().withBackingPolicy(policy), chain);
            case RAW -> RawFileNode.open(path, true);
        };
    }

    private static Format parseFormat(String format, Path path) throws BlockIOException {
        return switch (format) {
            case "qcow2" -> Format.QCOW2;
            case "raw" -> Format.RAW;
            default -> throw new BlockIOException(Errno.ENOTSUP, "backing file " + path + " has unsupported format '" + format + "'");
        };
    }

    static Path realPath(Path path) throws BlockIOException {
        try {
            return path.toRealPath();
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "backing file " + path + " cannot be opened: " + e, e);
        }
    }
}
