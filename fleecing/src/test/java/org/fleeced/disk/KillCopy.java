package org.fleeced.disk;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * What {@code kill -9} leaves of a process that has an image open: the image and every sidecar
 * ({@link DiskSidecars}) as they are now, since the page cache survives a killed process. The
 * crash tests open the copy as the daemon opens a disk after a crash.
 */
public final class KillCopy {
    private KillCopy() {
    }

    /** Copies {@code image} and its sidecars into the new directory {@code directory}; the copy of the image. */
    public static Path of(Path image, Path directory) throws IOException {
        Path target = Files.createDirectory(directory).resolve(image.getFileName());
        Files.copy(image, target);
        List<Path> from = DiskSidecars.of(image);
        List<Path> to = DiskSidecars.of(target);
        for (int i = 0; i < from.size(); i++) {
            if (Files.exists(from.get(i))) {
                Files.copy(from.get(i), to.get(i), StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return target;
    }
}
