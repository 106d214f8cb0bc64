package org.fleeced.daemon.nbd.server;

import io.vertx.core.buffer.Buffer;

/** What the option haggling state machine asks of its connection. */
interface HandshakeChannel {
    /** Sends one whole message. */
    void send(Buffer message);

    /** Sends a last reply (the ACK to NBD_OPT_ABORT, ERR_SHUTDOWN) and closes once it has left. */
    void sendThenClose(Buffer message);

    /** Sends the ACK to NBD_OPT_STARTTLS, then runs the TLS handshake; options continue inside TLS. */
    void startTls(Buffer ack);

    /**
     * Attaches to the export and sends the reply that ends haggling (the ACK of GO, or the
     * EXPORT_NAME reply); requests follow. False, and nothing sent, when the export went away.
     */
    boolean enterTransmission(TransmissionParameters parameters, Buffer reply);

    /** Hard disconnect for a reason the spec allows (a broken MUST, an EXPORT_NAME that cannot be served). */
    void fail(String reason);
}
