package org.fleeced.restore;

import java.util.Objects;

/**
 * What a disk restores from, and how hard its background stream may pull on it.
 *
 * @param source the backup to restore
 * @param limits the stream's limits
 */
public record RestorePlan(RestoreSource source, RestoreLimits limits) {
    public RestorePlan {
        Objects.requireNonNull(source);
        Objects.requireNonNull(limits);
    }

    /** A plan whose stream copies at most {@code bytesPerSecond} (0: no limit), the default pieces in flight. */
    public RestorePlan(RestoreSource source, long bytesPerSecond) {
        this(source, RestoreLimits.of(bytesPerSecond));
    }
}
