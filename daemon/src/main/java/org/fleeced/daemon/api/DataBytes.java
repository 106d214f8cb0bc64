package org.fleeced.daemon.api;

import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Extent;

/** The guest bytes of a node that hold data (not holes, not known zeroes): what a full backup reads. */
final class DataBytes {
    private DataBytes() {
    }

    /** The data bytes, or -1 when block status fails (the listing shows the disk anyway). */
    static long of(BlockNode node) {
        long total = 0;
        long pos = 0;
        try {
            while (pos < node.size()) {
                List<Extent> extents = node.blockStatus(pos, node.size() - pos);
                for (Extent e : extents) {
                    if (e.data() && !e.zero()) {
                        total += e.length();
                    }
                }
                pos = extents.getLast().end();
            }
        } catch (BlockIOException e) {
            return -1;
        }
        return total;
    }
}
