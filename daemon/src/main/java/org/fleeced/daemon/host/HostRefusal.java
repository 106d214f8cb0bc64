package org.fleeced.daemon.host;

import org.fleeced.checkpoint.BaseRefusal;

/**
 * A request the daemon refuses, with what kind of refusal it is, a stable reason code, and a
 * sentence that says what to do. The REST layer maps the kind to an HTTP status in one place.
 */
public final class HostRefusal extends Exception {
    /** What kind of refusal: decides the HTTP status. */
    public enum Kind { BAD_REQUEST, FORBIDDEN, NOT_FOUND, CONFLICT, UNPROCESSABLE, NO_SPACE }

    private final Kind kind;
    private final String reason;

    public HostRefusal(Kind kind, String reason, String message) {
        super(message);
        this.kind = kind;
        this.reason = reason;
    }

    public Kind kind() {
        return kind;
    }

    public String reason() {
        return reason;
    }

    /**
     * The API's code for why a base cannot be backed up from, as openapi.yaml's
     * {@code fallbackReason} names them (NEW_DISK, BASE_UNKNOWN, BASE_INCONSISTENT); used both
     * for a job's fallback and for the 422 that refuses it.
     */
    public static String baseReason(BaseRefusal refusal) {
        return switch (refusal) {
            case NO_CHECKPOINTS -> "NEW_DISK";
            case BASE_UNKNOWN, BASE_INCONSISTENT -> refusal.name();
        };
    }
}
