package org.fleeced.daemon.api;

import org.fleeced.daemon.host.HostRefusal;
import org.fleeced.daemon.host.ProblemReason;

/**
 * A REST call that failed in a way the caller can act on: a stable reason code to branch on
 * (which fixes the HTTP status, see {@link ProblemReason}), an errno-style code, and a sentence
 * that says what to do. Sent as an RFC 9457 {@code application/problem+json} body by
 * {@link ProblemResponses}.
 */
public final class ApiProblem extends Exception {
    private final ProblemReason reason;
    private final String errno;

    /** A problem with the reason's own errno. */
    public ApiProblem(ProblemReason reason, String detail) {
        this(reason, reason.errno(), detail);
    }

    /** A problem with one of the errnos the reason allows (a block-layer failure names its own). */
    public ApiProblem(ProblemReason reason, String errno, String detail) {
        super(detail);
        if (!reason.errnos().contains(errno)) {
            throw new IllegalArgumentException("reason " + reason + " does not carry errno " + errno);
        }
        this.reason = reason;
        this.errno = errno;
    }

    /** The problem a refusal of the host layer is answered with. */
    public static ApiProblem of(HostRefusal refusal) {
        return new ApiProblem(refusal.reason(), refusal.getMessage());
    }

    public int status() {
        return reason.status();
    }

    public String errno() {
        return errno;
    }

    public ProblemReason reason() {
        return reason;
    }

    public String detail() {
        return getMessage();
    }
}
