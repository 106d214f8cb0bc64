package org.fleeced.daemon.host;

import org.fleeced.checkpoint.BaseRefusal;

/**
 * A request the daemon refuses, with a stable reason code (which decides the HTTP status, see
 * {@link ProblemReason}) and a sentence that says what to do.
 */
public class HostRefusal extends Exception {
    private final ProblemReason reason;

    public HostRefusal(ProblemReason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public ProblemReason reason() {
        return reason;
    }

    /**
     * The API's code for why a base cannot be backed up from, as openapi.yaml's
     * {@code fallbackReason} names them (NEW_DISK, BASE_UNKNOWN, BASE_INCONSISTENT); used both
     * for a job's fallback and for the 422 that refuses it.
     */
    public static ProblemReason baseReason(BaseRefusal refusal) {
        return switch (refusal) {
            case NO_CHECKPOINTS -> ProblemReason.NEW_DISK;
            case BASE_UNKNOWN -> ProblemReason.BASE_UNKNOWN;
            case BASE_INCONSISTENT -> ProblemReason.BASE_INCONSISTENT;
        };
    }
}
