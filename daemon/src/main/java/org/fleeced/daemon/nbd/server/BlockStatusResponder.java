package org.fleeced.daemon.nbd.server;

import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdReplyType;
import org.fleeced.daemon.nbd.protocol.ReplyEncoder;
import org.fleeced.daemon.nbd.protocol.ReplyEncoder.StatusRun;

/**
 * Answers NBD_CMD_BLOCK_STATUS (NBD proto "NBD_CMD_BLOCK_STATUS"): exactly one status chunk per
 * context, the last one marked DONE, sent only once every context was asked, so that a failure in
 * any of them becomes the only reply (an ERROR chunk). Runs start at the request offset, are
 * consecutive, never empty, never past the request, and adjacent runs of equal status are joined.
 * With REQ_ONE each chunk carries exactly one run. A chunk carries at most {@link #MAX_RUNS} runs
 * (the spec asks for no more than 2^20); the client asks again for the rest.
 */
final class BlockStatusResponder {
    static final int MAX_RUNS = 1 << 16;

    private BlockStatusResponder() {
    }

    static Future<Void> respond(RequestReplier replier, List<SelectedContext> contexts, long offset, long length) {
        boolean reqOne = replier.request().has(NbdCommandFlag.REQ_ONE);
        List<List<StatusRun>> answers = new ArrayList<>(contexts.size());
        try {
            for (SelectedContext context : contexts) {
                answers.add(collect(context.source(), offset, length, reqOne));
            }
        } catch (BlockIOException e) {
            return replier.error(NbdErrnoMapping.toNbd(e.errno(), replier.request()), e.toString());
        }
        Future<Void> last = null;
        for (int i = 0; i < contexts.size(); i++) {
            int flags = i == contexts.size() - 1 ? NbdReplyType.FLAG_DONE : 0;
            last = replier.send(ReplyEncoder.blockStatus(replier.framing(), flags, contexts.get(i).id(), answers.get(i)));
        }
        return last;
    }

    static List<StatusRun> collect(MetaContextSource source, long offset, long length, boolean reqOne)
            throws BlockIOException {
        List<StatusRun> runs = new ArrayList<>();
        long end = offset + length;
        long position = offset;
        while (position < end && runs.size() < MAX_RUNS) {
            List<StatusRun> answer = source.status(position, end - position);
            if (answer.isEmpty()) {
                throw new IllegalStateException("context " + source.name() + " described nothing at " + position);
            }
            for (StatusRun run : answer) {
                long runLength = Math.min(run.length(), end - position);
                if (runLength <= 0) {
                    throw new IllegalStateException("context " + source.name() + " returned an empty run at " + position);
                }
                StatusRun previous = runs.isEmpty() ? null : runs.getLast();
                if (previous != null && previous.status() == run.status()) {
                    runs.set(runs.size() - 1, new StatusRun(previous.length() + runLength, run.status()));
                } else {
                    runs.add(new StatusRun(runLength, run.status()));
                }
                position += runLength;
                if (position >= end || reqOne) {
                    break;
                }
            }
            if (reqOne) {
                break;
            }
        }
        return runs;
    }
}
