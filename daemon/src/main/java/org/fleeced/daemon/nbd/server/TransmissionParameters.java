package org.fleeced.daemon.nbd.server;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.fleeced.block.Capabilities;
import org.fleeced.daemon.nbd.protocol.NbdTransmissionFlag;

/**
 * What the handshake settled for one connection: the export, the transmission flags sent to the
 * client, the reply style, the selected metadata contexts and the block size constraints. Immutable;
 * the transmission phase validates every request against it.
 */
record TransmissionParameters(
        NbdExport export,
        Set<NbdTransmissionFlag> flags,
        boolean structuredReplies,
        boolean extendedHeaders,
        List<SelectedContext> contexts,
        BlockSizeConstraints blockSize) {

    static TransmissionParameters negotiate(NbdExport export, boolean structured, boolean extended,
                                            List<SelectedContext> contexts) {
        return new TransmissionParameters(export, flagsFor(export, structured, extended, contexts),
                structured || extended, extended, List.copyOf(contexts),
                BlockSizeConstraints.of(export.node().capabilities()));
    }

    /**
     * The transmission flags follow the node's capabilities (NBD proto "Transmission flags"): no
     * TRIM or WRITE_ZEROES on read-only exports (QEMU does the same), TRIM alone on a fleece export
     * that allows it, FUA emulated by a flush where the node has no per-request FUA, DF only with
     * structured replies, FAST_ZERO only with WRITE_ZEROES.
     */
    static Set<NbdTransmissionFlag> flagsFor(NbdExport export, boolean structured, boolean extended,
                                             List<SelectedContext> contexts) {
        Capabilities caps = export.node().capabilities();
        boolean writable = !export.refusesWrites();
        boolean trimOnly = export.readOnly() && export.allowTrimOnReadOnly();
        EnumSet<NbdTransmissionFlag> flags = EnumSet.of(NbdTransmissionFlag.HAS_FLAGS, NbdTransmissionFlag.SEND_CACHE);
        if (!writable && !trimOnly) {
            flags.add(NbdTransmissionFlag.READ_ONLY);
        }
        if (caps.canFlush()) {
            flags.add(NbdTransmissionFlag.SEND_FLUSH);
        }
        if (writable && (caps.canFua() || caps.canFlush())) {
            flags.add(NbdTransmissionFlag.SEND_FUA);
        }
        if (writable || trimOnly) {
            flags.add(NbdTransmissionFlag.SEND_TRIM);
        }
        if (writable) {
            flags.add(NbdTransmissionFlag.SEND_WRITE_ZEROES);
            if (caps.canFastZero()) {
                flags.add(NbdTransmissionFlag.SEND_FAST_ZERO);
            }
        }
        if (structured || extended) {
            flags.add(NbdTransmissionFlag.SEND_DF);
        }
        if (export.multiConn()) {
            flags.add(NbdTransmissionFlag.CAN_MULTI_CONN);
        }
        if (extended && !export.metaContexts().isEmpty()) {
            flags.add(NbdTransmissionFlag.BLOCK_STAT_PAYLOAD);
        }
        return flags;
    }

    int flagBits() {
        return NbdTransmissionFlag.maskOf(flags);
    }

    boolean advertises(NbdTransmissionFlag flag) {
        return flags.contains(flag);
    }
}
