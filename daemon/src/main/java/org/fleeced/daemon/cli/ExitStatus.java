package org.fleeced.daemon.cli;

/**
 * The exit statuses of the client commands, so scripts can branch without parsing text. The
 * README's CLI section lists them; a problem's HTTP status decides which one a refusal gets.
 */
public enum ExitStatus {
    OK(0),
    /** The daemon failed, or what was asked for failed (a 5xx, a job that ended failed). */
    FAILED(1),
    /** The command line is wrong (picocli's own status for a usage error). */
    USAGE(2),
    /** The daemon cannot be reached, or is still starting. */
    UNREACHABLE(3),
    /** No such disk, job or checkpoint (404). */
    NOT_FOUND(4),
    /** The state does not allow it now: a job holds the disk, the name is taken (409). */
    CONFLICT(5),
    /** The daemon refused the request as asked (400, 403, 413, 422). */
    REFUSED(6),
    /** No token, or a wrong one (401). */
    UNAUTHORIZED(7);

    private final int code;

    ExitStatus(int code) {
        this.code = code;
    }

    public int code() {
        return code;
    }

    /** The status for a problem answer with HTTP status {@code http}. */
    static ExitStatus ofHttp(int http) {
        return switch (http) {
            case 401 -> UNAUTHORIZED;
            case 404 -> NOT_FOUND;
            case 409 -> CONFLICT;
            case 503 -> UNREACHABLE;
            default -> http >= 400 && http < 500 ? REFUSED : FAILED;
        };
    }
}
