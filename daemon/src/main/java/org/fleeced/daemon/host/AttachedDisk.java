package org.fleeced.daemon.host;

import java.nio.file.Path;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.qcow2.ImageOpener;
import org.fleeced.qcow2.bitmap.PersistentBitmaps;

/**
 * A disk the daemon owns: where its image is, in which format, the block stack its writable
 * export serves ({@link ActiveDisk}), and the export's name.
 *
 * @param clusterBytes the image's allocation unit: the qcow2 cluster, or 4 KiB for raw
 * @param bitmaps      the qcow2 image's persistent bitmaps (its checkpoints); null for raw images,
 *                     whose checkpoints live in memory only
 */
public record AttachedDisk(String name, Path path, ImageOpener.Format format, ActiveDisk active, long clusterBytes,
        PersistentBitmaps bitmaps) {

    public String formatName() {
        return format.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The writable export has the disk's name. */
    public String exportName() {
        return name;
    }
}
