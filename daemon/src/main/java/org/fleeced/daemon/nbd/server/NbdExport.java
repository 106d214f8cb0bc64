package org.fleeced.daemon.nbd.server;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import org.fleeced.block.BlockNode;

/**
 * What the NBD server publishes under one name.
 *
 * @param name                 the export name clients ask for ("" is the default export)
 * @param description          shown by NBD_OPT_LIST and NBD_INFO_DESCRIPTION ("" for none)
 * @param node                 the node that serves the data; the export does not own it (whoever
 *                             registered the export closes it after unregistering)
 * @param readOnly             writes fail with EPERM; flagged NBD_FLAG_READ_ONLY unless
 *                             {@code allowTrimOnReadOnly}. Forced when the node cannot write.
 * @param allowTrimOnReadOnly  fleece exports (DESIGN §7): not flagged read-only, TRIM is advertised
 *                             and goes to {@link BlockNode#discard}, WRITE and WRITE_ZEROES fail with
 *                             EPERM. The node must accept discard.
 * @param multiConn            advertise NBD_FLAG_CAN_MULTI_CONN: safe when every connection sees the
 *                             same node and the node keeps no per-connection cache
 * @param metaContexts         the contexts clients may select, in the order their ids are given
 */
public record NbdExport(
        String name,
        String description,
        BlockNode node,
        boolean readOnly,
        boolean allowTrimOnReadOnly,
        boolean multiConn,
        List<MetaContextSource> metaContexts) {

    public NbdExport {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(description, "description");
        Objects.requireNonNull(node, "node");
        metaContexts = List.copyOf(metaContexts);
        if (name.getBytes(StandardCharsets.UTF_8).length > 4096 || name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("export name must be at most 4096 bytes of UTF-8 without NUL");
        }
        if (allowTrimOnReadOnly && !readOnly) {
            throw new IllegalArgumentException("allowTrimOnReadOnly applies to read-only exports only");
        }
        var names = new HashSet<String>();
        for (MetaContextSource source : metaContexts) {
            if (!names.add(source.name())) {
                throw new IllegalArgumentException("meta context " + source.name() + " listed twice");
            }
        }
    }

    /** A writable export with {@code base:allocation}, as most callers want it. */
    public static NbdExport writable(String name, BlockNode node) {
        return new NbdExport(name, "", node, false, false, true, List.of(ExtentStatusContext.baseAllocation(node)));
    }

    /** A read-only export with {@code base:allocation}. */
    public static NbdExport readOnly(String name, BlockNode node) {
        return new NbdExport(name, "", node, true, false, true, List.of(ExtentStatusContext.baseAllocation(node)));
    }

    /** Whether WRITE and WRITE_ZEROES are refused: asked for, or the node cannot write. */
    public boolean refusesWrites() {
        return readOnly || !node.capabilities().canWrite();
    }
}
