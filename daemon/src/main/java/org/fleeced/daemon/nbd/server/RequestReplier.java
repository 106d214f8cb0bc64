package org.fleeced.daemon.nbd.server;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import org.fleeced.block.FileSpan;
import org.fleeced.daemon.nbd.protocol.NbdError;
import org.fleeced.daemon.nbd.protocol.NbdRequest;
import org.fleeced.daemon.nbd.protocol.ReplyEncoder;

/**
 * Answers one request in the reply style the connection negotiated: simple replies without
 * structured replies; with them, structured chunks for reads, block status and every error (with
 * its message), and a simple reply for other successes (as QEMU does); with extended headers,
 * extended chunks only (no simple replies at all).
 */
final class RequestReplier {
    private final ReplyWriter writer;
    private final NbdRequest request;
    private final TransmissionParameters parameters;
    private final NbdServerStats stats;

    RequestReplier(ReplyWriter writer, NbdRequest request, TransmissionParameters parameters, NbdServerStats stats) {
        this.writer = writer;
        this.request = request;
        this.parameters = parameters;
        this.stats = stats;
    }

    NbdRequest request() {
        return request;
    }

    boolean structured() {
        return parameters.structuredReplies();
    }

    ReplyEncoder.Framing framing() {
        return new ReplyEncoder.Framing(request.cookie(), request.offset(), parameters.extendedHeaders());
    }

    Future<Void> ok() {
        return parameters.extendedHeaders()
                ? writer.send(ReplyEncoder.none(framing()))
                : writer.send(ReplyEncoder.simple(null, request.cookie()));
    }

    Future<Void> error(NbdError error, String message) {
        stats.errorReply();
        return structured()
                ? writer.send(ReplyEncoder.error(framing(), error, message))
                : writer.send(ReplyEncoder.simple(error, request.cookie()));
    }

    /** An error at a known offset after some chunks of the reply were sent (structured replies only). */
    Future<Void> errorAt(NbdError error, String message, long offset) {
        stats.errorReply();
        return writer.send(ReplyEncoder.errorOffset(framing(), error, message, offset));
    }

    /** Whether read data may go out as file spans on this connection. */
    boolean takesFileSpans() {
        return writer.takesFileSpans();
    }

    /** A header and the data bytes that follow it, sent from a file. */
    Future<Void> send(Buffer header, FileSpan span) {
        return writer.send(header, span);
    }

    Future<Void> send(Buffer message) {
        return writer.send(message);
    }

    /** Sends a read reply; the writer frees it. */
    Future<Void> send(ReplyEncoder.DataMessage message) {
        return writer.send(message);
    }
}
