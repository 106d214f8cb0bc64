package org.fleeced.checkpoint;

import java.util.Objects;

/**
 * What a fleecing job covers: the whole disk, or the changes since a checkpoint.
 *
 * @param kind           full, incremental (since the newest checkpoint) or differential (since a named one)
 * @param checkpoint     the base of a differential backup; null otherwise
 * @param fallBackToFull when the base is refused ({@link BaseRefusal}), take a full backup instead of failing
 */
public record BackupBase(Kind kind, String checkpoint, boolean fallBackToFull) {

    public enum Kind { FULL, INCREMENTAL, DIFFERENTIAL }

    public BackupBase {
        Objects.requireNonNull(kind);
        if ((kind == Kind.DIFFERENTIAL) != (checkpoint != null)) {
            throw new IllegalArgumentException("a differential backup, and only it, names its base checkpoint");
        }
    }

    public static BackupBase full() {
        return new BackupBase(Kind.FULL, null, false);
    }

    /** Changes since the newest checkpoint (QEMU/libvirt "incremental"). */
    public static BackupBase incremental() {
        return new BackupBase(Kind.INCREMENTAL, null, false);
    }

    /** Changes since {@code checkpoint}, which may be older than the newest. */
    public static BackupBase differentialFrom(String checkpoint) {
        return new BackupBase(Kind.DIFFERENTIAL, Objects.requireNonNull(checkpoint), false);
    }

    public BackupBase orFullWhenRefused() {
        return new BackupBase(kind, checkpoint, true);
    }
}
