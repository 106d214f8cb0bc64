package org.fleeced.daemon.guest;

/** The guest agent could not be reached, did not answer in time, or answered with an error. */
public final class GuestAgentException extends Exception {
    public GuestAgentException(String message) {
        super(message);
    }

    public GuestAgentException(String message, Throwable cause) {
        super(message, cause);
    }
}
