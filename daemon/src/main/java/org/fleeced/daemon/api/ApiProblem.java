package org.fleeced.daemon.api;

/**
 * A REST call that failed in a way the caller can act on: an HTTP status, an errno-style code,
 * a stable reason code to branch on, and a sentence that says what to do. Sent as an RFC 9457
 * {@code application/problem+json} body by {@link ProblemResponses}.
 */
public final class ApiProblem extends Exception {
    private final int status;
    private final String errno;
    private final String reason;

    public ApiProblem(int status, String errno, String reason, String detail) {
        super(detail);
        this.status = status;
        this.errno = errno;
        this.reason = reason;
    }

    public static ApiProblem badRequest(String reason, String detail) {
        return new ApiProblem(400, "EINVAL", reason, detail);
    }

    public static ApiProblem forbidden(String reason, String detail) {
        return new ApiProblem(403, "EPERM", reason, detail);
    }

    public static ApiProblem notFound(String reason, String detail) {
        return new ApiProblem(404, "ENOENT", reason, detail);
    }

    public static ApiProblem conflict(String reason, String detail) {
        return new ApiProblem(409, "EBUSY", reason, detail);
    }

    public static ApiProblem unprocessable(String reason, String detail) {
        return new ApiProblem(422, "EINVAL", reason, detail);
    }

    public int status() {
        return status;
    }

    public String errno() {
        return errno;
    }

    public String reason() {
        return reason;
    }

    public String detail() {
        return getMessage();
    }
}
