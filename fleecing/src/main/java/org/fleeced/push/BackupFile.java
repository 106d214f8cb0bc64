package org.fleeced.push;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.qcow2.BackingPolicy;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;

/**
 * A new backup file that a push writes: created here, never over an existing file (the create
 * fails on any existing name, a dangling symbolic link included, so it cannot be made to write
 * elsewhere), and deleted again by {@link #delete} when the push fails.
 *
 * <ul>
 *   <li>{@link Format#QCOW2}: a version 3 image with 64 KiB clusters (they divide every CBW
 *       cluster, so the copy writes whole clusters). An incremental backup's image names the
 *       previous backup of its chain as its backing file, by a name relative to its own
 *       directory and with its format recorded ({@code backing_fmt}), so the chain can be moved
 *       as a whole and is never probed. Zero extents become zero clusters where the backing file
 *       has data, and stay unallocated where nothing shows through.</li>
 *   <li>{@link Format#RAW}: a sparse file of the disk's size; zero extents stay holes. A raw file
 *       has no backing file, so it can only hold a full backup.</li>
 * </ul>
 */
public final class BackupFile {
    /** What {@link #markPartial} appends to the name of a kept partial backup. */
    public static final String PARTIAL_SUFFIX = ".partial";

    /** The format of a backup file, as the API names them in lower case. */
    public enum Format {
        QCOW2, RAW
    }

    /** The previous backup of a chain: the file and its format. */
    public record Backing(Path file, Format format) {
    }

    private BackupFile() {
    }

    /**
     * Creates the backup file {@code path} for a disk of {@code sizeBytes} and opens it for
     * writing; {@code backing} (qcow2 only) is the previous backup of the chain or null, opened
     * read-only under {@code policy}. On failure nothing is left behind.
     *
     * @throws BlockIOException ENOSPC when the directory is full, EIO when the file exists or
     *                          cannot be created, or the backing file cannot be opened
     */
    public static BlockNode create(Path path, Format format, long sizeBytes, Backing backing, BackingPolicy policy)
            throws BlockIOException {
        if (backing != null && format != Format.QCOW2) {
            throw new IllegalArgumentException("a raw backup file cannot have a backing file");
        }
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            // checked here so that the cleanup below only ever deletes a file this call created
            throw new BlockIOException(Errno.EIO, "cannot create backup file " + path + ": it exists");
        }
        if (format == Format.RAW) {
            return RawFileNode.create(path, sizeBytes);
        }
        Qcow2CreateOptions options = Qcow2CreateOptions.of(sizeBytes);
        if (backing != null) {
            Path relative = path.toAbsolutePath().getParent().relativize(backing.file().toAbsolutePath());
            options = options.withBacking(relative.toString(), backing.format().name().toLowerCase(java.util.Locale.ROOT));
        }
        try {
            Qcow2Creator.create(path, options);
            return Qcow2Node.open(path, Qcow2OpenOptions.readWrite().withBackingPolicy(policy));
        } catch (BlockIOException | RuntimeException e) {
            delete(path, e);
            throw e;
        }
    }

    /** Deletes a backup file a failed push created; a failure to delete is added to {@code cause}. */
    public static void delete(Path path, Exception cause) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            cause.addSuppressed(new BlockIOException(Errno.EIO, "cannot delete the partial backup " + path + ": " + e, e));
        }
    }

    /**
     * Marks a backup file a failed push created and was asked to keep: renames it to
     * {@code NAME.partial} (never over an existing file), so its name no longer claims a backup.
     * Answers the new name.
     */
    public static Path markPartial(Path path) throws IOException {
        Path partial = path.resolveSibling(path.getFileName() + PARTIAL_SUFFIX);
        // a link fails when the name exists, where a rename would replace it
        Files.createLink(partial, path);
        Files.delete(path);
        return partial;
    }
}
