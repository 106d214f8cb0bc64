package org.fleeced.daemon.nbd.server;

import java.util.List;
import org.fleeced.daemon.nbd.protocol.NbdError;

/** The outcome of validating one request at the protocol edge. */
sealed interface RequestVerdict {

    /**
     * The request may run.
     *
     * @param length   the effective length (for a BLOCK_STATUS with a payload, the one in the payload)
     * @param contexts for BLOCK_STATUS, the contexts to answer for; empty otherwise
     */
    record Accepted(long length, List<SelectedContext> contexts) implements RequestVerdict {
    }

    /** The request gets this error and nothing else happens. */
    record Rejected(NbdError error, String message) implements RequestVerdict {
    }
}
