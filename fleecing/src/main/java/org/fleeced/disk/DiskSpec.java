package org.fleeced.disk;

import java.nio.file.Path;
import java.util.Objects;
import org.fleeced.qcow2.BackingPolicy;
import org.fleeced.qcow2.ImageOpener;
import org.fleeced.qcow2.bitmap.BitmapPersistenceOptions;
import org.fleeced.restore.RestorePlan;

/**
 * What {@link DiskOpener#open} assembles: an image file in a format the caller names (no probing
 * here; {@link ImageOpener#detect} is a separate, explicit step), opened read-write or read-only,
 * with or without checkpoints.
 *
 * @param name          the disk's name: letters, digits, '.', '_', '-' (it names temp files)
 * @param path          the image file
 * @param format        the image's format
 * @param readOnly      open without writing anything
 * @param checkpoints   give the disk a {@link org.fleeced.checkpoint.CheckpointSet}: on qcow2 the
 *                      persistent bitmaps become its checkpoints (only the newest records); without,
 *                      a qcow2 image's enabled bitmaps record as QEMU records them, and a raw image
 *                      has no dirty tracking at all
 * @param bitmapOptions how a qcow2 image's persistent bitmaps use their intent log
 * @param backingPolicy which backing files a qcow2 image may reach (the daemon confines them to its
 *                      image directories; `fleeced serve` does not)
 * @param restore       what a new qcow2 image is restored from (instant restore), or null; an image
 *                      whose restore is unfinished needs its source again at every open
 */
public record DiskSpec(String name, Path path, ImageOpener.Format format, boolean readOnly, boolean checkpoints,
        BitmapPersistenceOptions bitmapOptions, BackingPolicy backingPolicy, RestorePlan restore) {
    public DiskSpec {
        Objects.requireNonNull(name);
        Objects.requireNonNull(path);
        Objects.requireNonNull(format);
        Objects.requireNonNull(bitmapOptions);
        Objects.requireNonNull(backingPolicy);
    }

    /** A read-write disk with checkpoints: what the daemon attaches. */
    public static DiskSpec of(String name, Path path, ImageOpener.Format format) {
        return new DiskSpec(name, path, format, false, true, BitmapPersistenceOptions.defaults(), BackingPolicy.unconfined(), null);
    }

    public DiskSpec readOnly(boolean ro) {
        return new DiskSpec(name, path, format, ro, checkpoints, bitmapOptions, backingPolicy, restore);
    }

    /** No checkpoints: the image's own bitmaps record as they are (see the class note). */
    public DiskSpec withoutCheckpoints() {
        return new DiskSpec(name, path, format, readOnly, false, bitmapOptions, backingPolicy, restore);
    }

    public DiskSpec withBitmapOptions(BitmapPersistenceOptions options) {
        return new DiskSpec(name, path, format, readOnly, checkpoints, options, backingPolicy, restore);
    }

    public DiskSpec withBackingPolicy(BackingPolicy policy) {
        return new DiskSpec(name, path, format, readOnly, checkpoints, bitmapOptions, policy, restore);
    }

    /** Restores the image from {@code plan} while the disk is in use (see {@link org.fleeced.restore}). */
    public DiskSpec withRestore(RestorePlan plan) {
        return new DiskSpec(name, path, format, readOnly, checkpoints, bitmapOptions, backingPolicy, plan);
    }
}
