package org.fleeced.daemon.nbd.protocol;

/** Option data whose lengths overrun the option or whose strings are not valid: answered with NBD_REP_ERR_INVALID. */
public final class MalformedOptionException extends Exception {
    public MalformedOptionException(String message) {
        super(message);
    }
}
