package org.fleeced.job;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where and how a fleecing job keeps the old data its copy-before-write saves.
 *
 * @param format       raw (default) or qcow2
 * @param directory    where the temp images are created; they are deleted when the job ends
 * @param quotaBytes   the most temp data the job may hold, over all its disks; 0 for no limit.
 *                     A copy that would exceed it fails with ENOSPC, handled by the job's
 *                     {@link OnCbwError} policy.
 * @param reserveBytes admission control: the job is refused at start with ENOSPC unless the
 *                     directory's file system has at least this many usable bytes; 0 to skip
 */
public record TempSettings(TempFormat format, Path directory, long quotaBytes, long reserveBytes) {

    public TempSettings {
        Objects.requireNonNull(format);
        Objects.requireNonNull(directory);
        if (quotaBytes < 0 || reserveBytes < 0) {
            throw new IllegalArgumentException("negative temp quota or reserve");
        }
    }

    /** Raw temp images in {@code directory}, without quota or reserve. */
    public static TempSettings raw(Path directory) {
        return new TempSettings(TempFormat.RAW, directory, 0, 0);
    }

    /** qcow2 temp images in {@code directory}, without quota or reserve. */
    public static TempSettings qcow2(Path directory) {
        return new TempSettings(TempFormat.QCOW2, directory, 0, 0);
    }

    public TempSettings withFormat(TempFormat newFormat) {
        return new TempSettings(newFormat, directory, quotaBytes, reserveBytes);
    }

    public TempSettings withQuota(long bytes) {
        return new TempSettings(format, directory, bytes, reserveBytes);
    }

    public TempSettings withReserve(long bytes) {
        return new TempSettings(format, directory, quotaBytes, bytes);
    }
}
