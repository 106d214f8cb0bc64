package org.fleeced.checkpoint;

import java.util.Objects;

/**
 * A checkpoint request that cannot be honoured. Either an incremental base is unusable
 * ({@link #refusal()} is set: fall back to a full backup), or the request itself is wrong (a name
 * already in use, an unknown checkpoint; {@link #refusal()} is null).
 */
public final class CheckpointException extends Exception {
    private final transient BaseRefusal refusal;

    public CheckpointException(BaseRefusal refusal, String message) {
        super(message);
        this.refusal = Objects.requireNonNull(refusal);
    }

    public CheckpointException(String message) {
        super(message);
        this.refusal = null;
    }

    /** Why an incremental base was refused, or null when the request itself was wrong. */
    public BaseRefusal refusal() {
        return refusal;
    }
}
