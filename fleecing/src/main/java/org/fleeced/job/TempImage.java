package org.fleeced.job;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.fleeced.block.Alignment;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;

/**
 * The private image where one disk's copy-before-write keeps old clusters: the same size as the
 * disk, sparse, created when the job starts and deleted when it ends (also when the start fails).
 * The job never flushes it: nothing in it outlives the job.
 *
 * <p>Formats ({@link TempFormat}):
 * <ul>
 *   <li>RAW: a sparse file; a reader discard punches a hole in it. A disk larger than the temp
 *       directory's file system allows a file to be (16 TiB on ext4 with 4 KiB blocks) gets a
 *       QCOW2 temp instead, whose file grows only with the data copied; one log line says so.</li>
 *   <li>QCOW2: a qcow2 image whose cluster divides the CBW cluster ({@link #qcow2ClusterBytes}),
 *       so that a reader discard, which {@link FleeceSnapshot} rounds inward to CBW clusters,
 *       always covers whole qcow2 clusters: they are unmapped and their host clusters freed for
 *       later copies to reuse. The host file does not shrink.</li>
 * </ul>
 * The quota ({@link TempQuota}) counts old data held, the same for both formats; qcow2 metadata
 * is not charged.
 */
public final class TempImage implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(TempImage.class.getName());
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

    /** The largest qcow2 cluster a temp image uses: the qcow2 default. */
    static final long MAX_QCOW2_CLUSTER_BYTES = Qcow2CreateOptions.DEFAULT_CLUSTER_SIZE;
    /** The smallest qcow2 cluster a temp image uses: smaller ones only multiply metadata. */
    static final long MIN_QCOW2_CLUSTER_BYTES = 4096;

    /**
     * Creates {@code baseName} plus the format's extension in the temp directory, sized
     * {@code sizeBytes}, for a filter whose CBW cluster is {@code cbwClusterBytes}.
     */
    public static TempImage create(TempSettings settings, String baseName, long sizeBytes, long cbwClusterBytes)
            throws BlockIOException {
        Path path = settings.directory().resolve(baseName + settings.format().fileExtension());
        if (settings.format() == TempFormat.QCOW2) {
            return new TempImage(path, createQcow2(path, sizeBytes, cbwClusterBytes));
        }
        try {
            return new TempImage(path, RawFileNode.create(path, sizeBytes));
        } catch (BlockIOException e) {
            if (e.errno() != Errno.EFBIG) {
                throw e;
            }
            Path qcow2 = settings.directory().resolve(baseName + TempFormat.QCOW2.fileExtension());
            LOG.log(System.Logger.Level.INFO, "temp image " + path + ": the file system refuses a file of " + sizeBytes
                    + " bytes (" + e.getMessage() + "); the disk's temp image is the qcow2 " + qcow2 + " instead");
            return new TempImage(qcow2, createQcow2(qcow2, sizeBytes, cbwClusterBytes));
        }
    }

    /** min(CBW cluster, 64 KiB), at least 4 KiB: a power of two dividing the CBW cluster. */
    public static int qcow2ClusterBytes(long cbwClusterBytes) {
        if (!Alignment.isPowerOfTwo(cbwClusterBytes) || cbwClusterBytes < MIN_QCOW2_CLUSTER_BYTES) {
            throw new IllegalArgumentException("no qcow2 cluster divides a CBW cluster of " + cbwClusterBytes);
        }
        return (int) Math.min(cbwClusterBytes, MAX_QCOW2_CLUSTER_BYTES);
    }

    /** Creates and opens the qcow2 temp; on failure deletes whatever it created. */
    private static BlockNode createQcow2(Path path, long sizeBytes, long cbwClusterBytes) throws BlockIOException {
        Qcow2CreateOptions options = Qcow2CreateOptions.of(sizeBytes).withClusterSize(qcow2ClusterBytes(cbwClusterBytes));
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            // checked here so that the cleanup below only ever deletes a file this call created
            throw new BlockIOException(Errno.EIO, "cannot create temp image " + path + ": it exists");
        }
        try {
            Qcow2Creator.create(path, options);
            return Qcow2Node.open(path, Qcow2OpenOptions.readWrite());
        } catch (BlockIOException | RuntimeException e) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException d) {
                e.addSuppressed(d);
            }
            throw e;
        }
    }

    public BlockNode node() {
        return node;
    }

    public Path path() {
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
