package org.fleeced.daemon.host;

import java.nio.file.Path;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.qcow2.ImageOpener;

/**
 * A disk the daemon owns: where its image is, in which format, the block stack its writable
 * export serves ({@link ActiveDisk}, which owns the image, its checkpoints and bitmaps), the
 * export's name, and the unix socket of its guest's agent (null when it names none), through
 * which jobs freeze the guest's file systems. The writable export serves {@link GuestIo}'s node
 * over the stack: the guest's limits and its write latencies.
 */
public record AttachedDisk(String name, Path path, ImageOpener.Format format, ActiveDisk active, Path guestAgent,
        GuestIo guestIo) {

    public String formatName() {
        return format.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** The image's allocation unit: the qcow2 cluster, or 4 KiB for raw. */
    public long clusterBytes() {
        return active.imageClusterBytes();
    }

    /** The writable export has the disk's name. */
    public String exportName() {
        return name;
    }
}
