package org.fleeced.cbw;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.file.RawFileNode;

/**
 * The private image where one disk's copy-before-write keeps old clusters: the same size as the
 * disk, sparse, created when the job starts and deleted when it ends.
 */
final class TempImage implements AutoCloseable {
    private final Path path;
    private final BlockNode node;

    private TempImage(Path path, BlockNode node) {
        this.path = path;
        this.node = node;
    }

    /**
     * Refuses a job whose temp directory has fewer usable bytes than it reserves, with ENOSPC
     * and a message saying how much is free, before anything is created.
     */
    static void admit(TempSettings settings) throws BlockIOException {
        if (settings.reserveBytes() == 0) {
            return;
        }
        long usable;
        try {
            FileStore store = Files.getFileStore(settings.directory());
            usable = store.getUsableSpace();
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot check free space in temp directory " + settings.directory()
                    + ": " + e, e);
        }
        if (usable < settings.reserveBytes()) {
            throw new BlockIOException(Errno.ENOSPC, "temp directory " + settings.directory() + " has " + usable
                    + " usable bytes, less than the " + settings.reserveBytes() + " bytes the job reserves");
        }
    }

    /** Creates {@code fileName} in the temp directory, sized {@code sizeBytes}. */
    static TempImage create(TempSettings settings, String fileName, long sizeBytes) throws BlockIOException {
        Path path = settings.directory().resolve(fileName);
        return switch (settings.format()) {
            case RAW -> new TempImage(path, RawFileNode.create(path, sizeBytes));
            case QCOW2 -> throw new BlockIOException(Errno.ENOTSUP,
                    "qcow2 temp images need the qcow2 driver, which this build does not have yet; use raw");
        };
    }

    BlockNode node() {
        return node;
    }

    Path path() {
        return path;
    }

    /** Closes the image and deletes its file; the data is of no use once the job has ended. */
    @Override
    public void close() throws BlockIOException {
        try {
            node.close();
        } finally {
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                throw new BlockIOException(Errno.EIO, "cannot delete temp image " + path + ": " + e, e);
            }
        }
    }
}
