package org.fleeced.daemon.cli;

/** A client command failed: {@link #getMessage()} is the one line the user sees. */
public final class CliFailure extends Exception {
    private final ExitStatus status;

    CliFailure(ExitStatus status, String message) {
        super(message);
        this.status = status;
    }

    public ExitStatus status() {
        return status;
    }
}
