package org.fleeced.daemon.nbd.server;

import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.daemon.nbd.protocol.ReplyEncoder.StatusRun;

/**
 * One metadata context an export publishes (NBD proto "Metadata querying"): a name such as
 * {@code base:allocation} or {@code qemu:dirty-bitmap:NAME}, and the status of guest ranges in that
 * context. An export lists its sources; NBD_OPT_SET_META_CONTEXT selects among them by name and
 * NBD_CMD_BLOCK_STATUS asks each selected one.
 *
 * <p>Contract of {@link #status}: the caller passes a range inside the export. The source answers
 * runs that describe a prefix of the range from {@code offset}: at least one run, each of length
 * &gt; 0, together not past {@code offset + length}. It may describe less than asked; the caller
 * asks again from where the answer ends. Status values are 32-bit (the upper half zero). Failures
 * are {@link BlockIOException}s, mapped to NBD errors like those of any other command.
 */
public interface MetaContextSource {

    /** The full context name, {@code namespace:leaf}. */
    String name();

    List<StatusRun> status(long offset, long length) throws BlockIOException;
}
