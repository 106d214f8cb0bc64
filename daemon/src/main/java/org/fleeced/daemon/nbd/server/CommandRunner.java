package org.fleeced.daemon.nbd.server;

import io.vertx.core.Future;
import java.util.EnumSet;
import java.util.Set;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Capabilities;
import org.fleeced.block.WriteFlag;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdError;
import org.fleeced.daemon.nbd.protocol.NbdRequest;
import org.fleeced.daemon.nbd.protocol.ReceivedBytes;
import org.fleeced.daemon.nbd.server.RequestVerdict.Accepted;

/**
 * Runs one validated request against the export's node and answers it; called on the request's
 * virtual thread, so it may block. FUA on a node without per-request FUA becomes a flush after the
 * write. A node failure becomes an error reply through {@link NbdErrnoMapping}; a bug (a runtime
 * exception) becomes EIO and a log line, never a dead connection.
 */
final class CommandRunner {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.nbd");

    private CommandRunner() {
    }

    /** Returns the future of the request's last reply message. */
    static Future<Void> run(RequestReplier replier, BlockNode node, Accepted accepted, ReceivedBytes payload) {
        NbdRequest request = replier.request();
        try {
            return switch (request.command()) {
                case READ -> ReadResponder.respond(replier, node, request.offset(), (int) accepted.length());
                case BLOCK_STATUS -> BlockStatusResponder.respond(replier, accepted.contexts(), request.offset(),
                        accepted.length());
                default -> {
                    mutate(request, node, accepted.length(), payload);
                    yield replier.ok();
                }
            };
        } catch (BlockIOException e) {
            return replier.error(NbdErrnoMapping.toNbd(e.errno(), request), e.toString());
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "request " + request.describe() + " on " + node.describe() + " failed", e);
            return replier.error(NbdError.EIO, "EIO: internal error: " + e);
        }
    }

    private static void mutate(NbdRequest request, BlockNode node, long length, ReceivedBytes payload) throws BlockIOException {
        Capabilities caps = node.capabilities();
        boolean fua = request.has(NbdCommandFlag.FUA);
        boolean flushAfter = fua && !caps.canFua();
        NbdCommand command = request.command();
        switch (command) {
            case WRITE -> {
                try {
                    node.write(request.offset(), payload.writeBuffer(), fua && caps.canFua() ? WriteFlag.of(WriteFlag.FUA) : WriteFlag.NONE);
                } finally {
                    payload.release();
                }
            }
            case WRITE_ZEROES -> node.writeZeroes(request.offset(), length, zeroFlags(request, caps));
            case TRIM -> node.discard(request.offset(), length);
            case FLUSH -> node.flush();
            case CACHE -> {
                // advisory (NBD proto "NBD_CMD_CACHE"): nodes keep no cache that a prefetch could fill
            }
            default -> throw new IllegalStateException("not a mutating command: " + command);
        }
        if (flushAfter && command != NbdCommand.FLUSH && caps.canFlush()) {
            node.flush();
        }
    }

    private static Set<WriteFlag> zeroFlags(NbdRequest request, Capabilities caps) {
        EnumSet<WriteFlag> flags = EnumSet.noneOf(WriteFlag.class);
        if (!request.has(NbdCommandFlag.NO_HOLE)) {
            flags.add(WriteFlag.MAY_UNMAP);
        }
        if (request.has(NbdCommandFlag.FAST_ZERO)) {
            flags.add(WriteFlag.FAST_ZERO);
        }
        if (request.has(NbdCommandFlag.FUA) && caps.canFua()) {
            flags.add(WriteFlag.FUA);
        }
        return flags;
    }
}
