package org.fleeced.daemon.app;

/** A command line that cannot be run; its message tells the user what to change. */
public final class UsageException extends Exception {
    public UsageException(String message) {
        super(message);
    }
}
