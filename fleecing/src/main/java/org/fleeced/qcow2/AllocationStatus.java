package org.fleeced.qcow2;

import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Extent;

/**
 * blockStatus: describes guest ranges from the L2 entries, asking the backing chain about
 * unallocated ones.
 * <pre>
 *   NORMAL, COMPRESSED        data,                 depth 1
 *   ZERO                      zero (data when a preallocated host cluster backs it), depth 1
 *   UNALLOCATED               whatever the backing chain says, depth + 1; zero from nowhere
 *                             (depth 0) past the backing file's end or without one
 * </pre>
 * Zero is exact: only ZERO clusters and unbacked ranges are reported zero, never data that
 * happens to be zero. Answers stop after {@link #MAX_EXTENTS} extents; callers ask again.
 */
final class AllocationStatus {
    static final int MAX_EXTENTS = 1024;

    private final Qcow2Metadata metadata;
    private final BackingView backing;

    AllocationStatus(Qcow2Metadata metadata, BackingView backing) {
        this.metadata = metadata;
        this.backing = backing;
    }

    List<Extent> status(long offset, long length) throws BlockIOException {
        List<Extent> out = new ArrayList<>();
        long pos = offset;
        long end = offset + length;
        while (pos < end && out.size() < MAX_EXTENTS) {
            ClusterRun run;
            metadata.lock();
            try {
                run = metadata.runLocked(pos, end - pos);
            } finally {
                metadata.unlock();
            }
            switch (run.kind()) {
                case NORMAL, COMPRESSED -> add(out, new Extent(pos, run.length(), true, false, 1));
                case ZERO -> add(out, new Extent(pos, run.length(), run.entry().hasHostCluster(), true, 1));
                case UNALLOCATED -> {
                    List<Extent> below = backing.blockStatus(pos, run.length());
                    for (Extent e : below) {
                        add(out, e);
                    }
                    pos = below.getLast().end();
                    continue;
                }
            }
            pos += run.length();
        }
        return out;
    }

    private static void add(List<Extent> out, Extent e) {
        if (!out.isEmpty() && out.getLast().sameStatus(e) && out.getLast().end() == e.offset()) {
            Extent last = out.removeLast();
            out.add(last.withRange(last.offset(), last.length() + e.length()));
        } else {
            out.add(e);
        }
    }
}
