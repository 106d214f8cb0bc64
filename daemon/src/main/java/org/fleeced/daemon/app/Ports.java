package org.fleeced.daemon.app;

/** A TCP port given on the command line. */
final class Ports {
    private Ports() {
    }

    /** Refuses a port outside 0..65535 (0: any free port); null means not given. */
    static void check(Integer port, String option) throws UsageException {
        if (port != null && (port < 0 || port > 65535)) {
            throw new UsageException(option + " takes a port from 0 to 65535, not " + port);
        }
    }
}
