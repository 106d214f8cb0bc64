package org.fleeced.daemon.nbd.server;

import io.vertx.core.buffer.Buffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import org.fleeced.daemon.nbd.protocol.InfoRequest;
import org.fleeced.daemon.nbd.protocol.MalformedOptionException;
import org.fleeced.daemon.nbd.protocol.MetaContextRequest;
import org.fleeced.daemon.nbd.protocol.NbdClientFlag;
import org.fleeced.daemon.nbd.protocol.NbdInfo;
import org.fleeced.daemon.nbd.protocol.NbdOption;
import org.fleeced.daemon.nbd.protocol.NbdOptionReply;
import org.fleeced.daemon.nbd.protocol.OptionReplyEncoder;

/**
 * Fixed newstyle option haggling for one connection (NBD proto "Option haggling"). Runs on the
 * connection's event loop: every option is answered from memory (the registry and the node's
 * size and capabilities), nothing blocks.
 *
 * <p>State: the client flags; whether TLS is up; structured replies and extended headers
 * negotiated; the metadata contexts of the last SET_META_CONTEXT and the export they were set for.
 * STARTTLS forgets everything but the client flags. Every option gets replies and haggling goes
 * on, errors included (an unknown option gets ERR_UNSUP); the connection is dropped only where the
 * spec says so: unknown client flags, or an EXPORT_NAME that cannot be served.
 */
final class HandshakeSession {
    private final NbdExportRegistry registry;
    private final HandshakeChannel channel;
    private final boolean tlsAvailable;
    private final boolean tlsRequired;

    private boolean noZeroes;
    private boolean tlsActive;
    private boolean structuredReplies;
    private boolean extendedHeaders;
    /** The export name of the last SET_META_CONTEXT, or null; its selection applies only to that export. */
    private String selectionExport;
    private List<SelectedContext> selection = List.of();

    HandshakeSession(NbdExportRegistry registry, HandshakeChannel channel, boolean tlsAvailable, boolean tlsRequired) {
        this.registry = registry;
        this.channel = channel;
        this.tlsAvailable = tlsAvailable;
        this.tlsRequired = tlsRequired;
    }

    void onClientFlags(int flags) {
        if ((flags & ~NbdClientFlag.knownMask()) != 0) {
            channel.fail("unknown client flags 0x" + Integer.toHexString(flags));
            return;
        }
        noZeroes = (flags & NbdClientFlag.C_NO_ZEROES.mask()) != 0;
    }

    /** {@code data} is null when the option's data was too large and was skipped. */
    void onOption(int code, byte[] data) {
        NbdOption option = NbdOption.lookup(code);
        if (option == NbdOption.EXPORT_NAME) {
            exportName(data);
            return;
        }
        if (data == null) {
            reply(code, NbdOptionReply.ERR_TOO_BIG, "option data too large");
            return;
        }
        if (tlsRequired && !tlsActive && option != NbdOption.STARTTLS && option != NbdOption.ABORT) {
            reply(code, NbdOptionReply.ERR_TLS_REQD, "TLS is required: send NBD_OPT_STARTTLS first");
            return;
        }
        if (option == null || option == NbdOption.PEEK_EXPORT) {
            reply(code, NbdOptionReply.ERR_UNSUP, NbdOption.describe(code) + " is not supported");
            return;
        }
        switch (option) {
            case ABORT -> channel.sendThenClose(OptionReplyEncoder.ack(code));
            case LIST -> list(code, data);
            case STARTTLS -> startTls(code, data);
            case INFO, GO -> infoOrGo(option, data);
            case STRUCTURED_REPLY -> structuredReply(code, data);
            case EXTENDED_HEADERS -> extendedHeaders(code, data);
            case LIST_META_CONTEXT -> listMetaContext(code, data);
            case SET_META_CONTEXT -> setMetaContext(code, data);
            default -> throw new IllegalStateException("unhandled option " + option);
        }
    }

    /**
     * Any option once the server is shutting down (NBD proto "Option haggling": during shutdown the
     * server SHOULD answer NBD_REP_ERR_SHUTDOWN): ABORT keeps its ACK, EXPORT_NAME cannot be
     * answered with an error and drops the connection, every other option gets ERR_SHUTDOWN; the
     * connection closes after the reply.
     */
    void onOptionDuringShutdown(int code) {
        NbdOption option = NbdOption.lookup(code);
        if (option == NbdOption.EXPORT_NAME) {
            channel.fail("NBD_OPT_EXPORT_NAME while the server is shutting down");
        } else if (option == NbdOption.ABORT) {
            channel.sendThenClose(OptionReplyEncoder.ack(code));
        } else {
            channel.sendThenClose(OptionReplyEncoder.error(code, NbdOptionReply.ERR_SHUTDOWN, "the server is shutting down"));
        }
    }

    private void exportName(byte[] data) {
        if (tlsRequired && !tlsActive) {
            channel.fail("NBD_OPT_EXPORT_NAME before STARTTLS on a TLS-only server");
            return;
        }
        if (extendedHeaders) {
            channel.fail("NBD_OPT_EXPORT_NAME after NBD_OPT_EXTENDED_HEADERS");
            return;
        }
        String name = data == null ? null : new String(data, StandardCharsets.UTF_8);
        Optional<NbdExport> export = name == null ? Optional.empty() : registry.find(name);
        if (export.isEmpty()) {
            channel.fail("NBD_OPT_EXPORT_NAME for unknown export '" + name + "'");
            return;
        }
        TransmissionParameters parameters = parameters(export.get());
        Buffer reply = OptionReplyEncoder.exportNameReply(export.get().node().size(), parameters.flagBits(), noZeroes);
        if (!channel.enterTransmission(parameters, reply)) {
            channel.fail("export '" + name + "' went away");
        }
    }

    private void list(int code, byte[] data) {
        if (data.length != 0) {
            reply(code, NbdOptionReply.ERR_INVALID, "NBD_OPT_LIST takes no data");
            return;
        }
        for (NbdExport export : registry.list()) {
            channel.send(OptionReplyEncoder.reply(code, NbdOptionReply.SERVER,
                    OptionReplyEncoder.server(export.name(), export.description())));
        }
        channel.send(OptionReplyEncoder.ack(code));
    }

    private void startTls(int code, byte[] data) {
        if (data.length != 0) {
            reply(code, NbdOptionReply.ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
        } else if (!tlsAvailable) {
            reply(code, NbdOptionReply.ERR_POLICY, "TLS is not configured on this server");
        } else if (tlsActive) {
            reply(code, NbdOptionReply.ERR_INVALID, "TLS is already active");
        } else {
            // NBD proto "NBD_OPT_STARTTLS": everything negotiated before TLS is forgotten
            tlsActive = true;
            structuredReplies = false;
            extendedHeaders = false;
            selectionExport = null;
            selection = List.of();
            channel.startTls(OptionReplyEncoder.ack(code));
        }
    }

    private void infoOrGo(NbdOption option, byte[] data) {
        int code = option.code();
        InfoRequest request;
        try {
            request = InfoRequest.parse(data);
        } catch (MalformedOptionException e) {
            reply(code, NbdOptionReply.ERR_INVALID, e.getMessage());
            return;
        }
        Optional<NbdExport> found = registry.find(request.exportName());
        if (found.isEmpty()) {
            reply(code, NbdOptionReply.ERR_UNKNOWN, "export '" + request.exportName() + "' not found");
            return;
        }
        NbdExport export = found.get();
        TransmissionParameters parameters = parameters(export);
        channel.send(info(code, OptionReplyEncoder.infoExport(export.node().size(), parameters.flagBits())));
        if (request.asks(NbdInfo.NAME)) {
            channel.send(info(code, OptionReplyEncoder.infoName(export.name())));
        }
        if (request.asks(NbdInfo.DESCRIPTION) && !export.description().isEmpty()) {
            channel.send(info(code, OptionReplyEncoder.infoDescription(export.description())));
        }
        BlockSizeConstraints sizes = parameters.blockSize();
        channel.send(info(code, OptionReplyEncoder.infoBlockSize(sizes.minimum(), sizes.preferred(), sizes.maximumPayload())));
        if (option == NbdOption.INFO) {
            channel.send(OptionReplyEncoder.ack(code));
        } else if (!channel.enterTransmission(parameters, OptionReplyEncoder.ack(code))) {
            reply(code, NbdOptionReply.ERR_UNKNOWN, "export '" + request.exportName() + "' went away");
        }
    }

    private void structuredReply(int code, byte[] data) {
        if (data.length != 0) {
            reply(code, NbdOptionReply.ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
        } else if (structuredReplies) {
            reply(code, NbdOptionReply.ERR_INVALID, "structured replies are already negotiated");
        } else {
            structuredReplies = true;
            channel.send(OptionReplyEncoder.ack(code));
        }
    }

    private void extendedHeaders(int code, byte[] data) {
        if (data.length != 0) {
            reply(code, NbdOptionReply.ERR_INVALID, "NBD_OPT_EXTENDED_HEADERS takes no data");
        } else if (extendedHeaders) {
            reply(code, NbdOptionReply.ERR_INVALID, "extended headers are already negotiated");
        } else {
            extendedHeaders = true;
            channel.send(OptionReplyEncoder.ack(code));
        }
    }

    private void listMetaContext(int code, byte[] data) {
        MetaContextRequest request = parseMetaContext(code, data);
        if (request == null) {
            return;
        }
        Optional<NbdExport> export = registry.find(request.exportName());
        if (export.isEmpty()) {
            reply(code, NbdOptionReply.ERR_UNKNOWN, "export '" + request.exportName() + "' not found");
            return;
        }
        for (SelectedContext context : MetaContextMatcher.forList(export.get(), request.queries())) {
            // NBD proto: the id in a LIST answer SHOULD be 0; ids are only given by SET
            channel.send(OptionReplyEncoder.reply(code, NbdOptionReply.META_CONTEXT,
                    OptionReplyEncoder.metaContext(0, context.source().name())));
        }
        channel.send(OptionReplyEncoder.ack(code));
    }

    private void setMetaContext(int code, byte[] data) {
        selectionExport = null;
        selection = List.of();
        if (!structuredReplies && !extendedHeaders) {
            reply(code, NbdOptionReply.ERR_INVALID, "NBD_OPT_SET_META_CONTEXT needs structured replies first");
            return;
        }
        MetaContextRequest request = parseMetaContext(code, data);
        if (request == null) {
            return;
        }
        Optional<NbdExport> export = registry.find(request.exportName());
        if (export.isEmpty()) {
            reply(code, NbdOptionReply.ERR_UNKNOWN, "export '" + request.exportName() + "' not found");
            return;
        }
        List<SelectedContext> chosen = MetaContextMatcher.forSet(export.get(), request.queries());
        for (SelectedContext context : chosen) {
            channel.send(OptionReplyEncoder.reply(code, NbdOptionReply.META_CONTEXT,
                    OptionReplyEncoder.metaContext(context.id(), context.source().name())));
        }
        selectionExport = request.exportName();
        selection = chosen;
        channel.send(OptionReplyEncoder.ack(code));
    }

    private MetaContextRequest parseMetaContext(int code, byte[] data) {
        try {
            return MetaContextRequest.parse(data);
        } catch (MalformedOptionException e) {
            reply(code, NbdOptionReply.ERR_INVALID, e.getMessage());
            return null;
        }
    }

    private TransmissionParameters parameters(NbdExport export) {
        List<SelectedContext> contexts = export.name().equals(selectionExport) ? selection : List.of();
        return TransmissionParameters.negotiate(export, structuredReplies, extendedHeaders, contexts);
    }

    private static Buffer info(int code, Buffer payload) {
        return OptionReplyEncoder.reply(code, NbdOptionReply.INFO, payload);
    }

    private void reply(int code, NbdOptionReply error, String message) {
        channel.send(OptionReplyEncoder.error(code, error, message));
    }
}
