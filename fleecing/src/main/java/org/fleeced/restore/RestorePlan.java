package org.fleeced.restore;

import java.util.Objects;

/**
 * What a disk restores from, and how fast its background stream may copy.
 *
 * @param source          the backup to restore
 * @param bytesPerSecond  the stream's limit; 0 for none (the guest's own fetches are never limited)
 */
public record RestorePlan(RestoreSource source, long bytesPerSecond) {
    public RestorePlan {
        Objects.requireNonNull(source);
        if (bytesPerSecond < 0) {
            throw new IllegalArgumentException("negative restore limit " + bytesPerSecond);
        }
    }
}
