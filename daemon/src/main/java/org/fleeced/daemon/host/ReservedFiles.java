package org.fleeced.daemon.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fleeced.disk.DiskSidecars;

/**
 * The files inside the image directories that a request may still not attach: fleeced's own
 * (the sidecars beside images, the state directory, the temp directories) and the image another
 * disk has open writable. Two writers on one image, or a client writing the intent log that
 * recovery trusts, corrupt a disk or make an incremental backup silently miss changes.
 *
 * <p>A file is the same as another when it has the same device and inode, so a hard link or a
 * symbolic link to an attached image is caught whatever its name. A backing image opened
 * read-only stays shareable: only the active image of each disk is compared.
 */
public final class ReservedFiles {
    private final Path stateDir;
    /** The image directories: those below the state directory (its default place) stay usable. */
    private final List<Path> imageDirs;
    private final List<Path> tempDirs;

    public ReservedFiles(Path stateDir, List<Path> imageDirs, List<Path> tempDirs) {
        this.stateDir = stateDir;
        this.imageDirs = imageDirs;
        this.tempDirs = tempDirs;
    }

    /**
     * Refuses {@code file} (a real path, links resolved) when it is one of fleeced's own files
     * (403 {@code RESERVED_PATH}) or the same file as one of the {@code writableImages}, by disk
     * name, or as one of their sidecars (409 {@code IMAGE_IN_USE}, or 403 for a sidecar).
     */
    public void check(Path file, Map<String, Path> writableImages) throws HostRefusal {
        if (DiskSidecars.isSidecarName(file)) {
            throw reserved(file + " is named as one of fleeced's sidecar files (IMAGE.fleeced-KIND)"
                    + ", which fleeced writes itself beside an image");
        }
        for (Path temp : tempDirs) {
            if (file.startsWith(realOrAsGiven(temp))) {
                throw reserved(file + " is inside the temp directory " + temp + ", which only fleeced writes");
            }
        }
        Path state = realOrAsGiven(stateDir);
        if (file.startsWith(state) && imageDirs.stream().map(ReservedFiles::realOrAsGiven)
                .noneMatch(images -> images.startsWith(state) && !images.equals(state) && file.startsWith(images))) {
            throw reserved(file + " is inside the state directory " + stateDir
                    + " (and not in an image directory below it), which only fleeced writes");
        }
        Object key = fileKey(file);
        if (key == null) {
            return;
        }
        for (Map.Entry<String, Path> disk : writableImages.entrySet()) {
            if (key.equals(fileKey(disk.getValue()))) {
                throw new HostRefusal(ProblemReason.IMAGE_IN_USE, file + " is the image disk '" + disk.getKey()
                        + "' has open writable (" + disk.getValue() + ", the same file by device and inode)"
                        + "; detach that disk first.");
            }
            for (Path sidecar : DiskSidecars.of(disk.getValue())) {
                if (key.equals(fileKey(sidecar))) {
                    throw reserved(file + " is " + sidecar + " (the same file by device and inode)"
                            + ", a file fleeced keeps for disk '" + disk.getKey() + "'");
                }
            }
        }
    }

    private static HostRefusal reserved(String why) {
        return new HostRefusal(ProblemReason.RESERVED_PATH, why + "; give the path of a disk image.");
    }

    private static Path realOrAsGiven(Path dir) {
        try {
            return dir.toRealPath();
        } catch (IOException e) {
            return dir.toAbsolutePath().normalize();
        }
    }

    /** Device and inode of the file a path names (links followed), or null when there is none. */
    private static Object fileKey(Path path) throws HostRefusal {
        try {
            return Objects.requireNonNull(Files.readAttributes(path, BasicFileAttributes.class).fileKey(),
                    "this file system gives no device and inode");
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new HostRefusal(ProblemReason.IO_ERROR, "cannot read the attributes of " + path + ": " + e);
        }
    }
}
