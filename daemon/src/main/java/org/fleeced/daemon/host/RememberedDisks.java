package org.fleeced.daemon.host;

import java.io.IOException;
import java.util.List;
import org.fleeced.restore.RestoreLimits;

/**
 * Where the {@link DiskTable} keeps what is attached, so that a restarted daemon attaches it
 * again. The daemon keeps it in a file of its state directory; the format is the composition
 * root's business, not the table's.
 */
@FunctionalInterface
public interface RememberedDisks {
    /**
     * One remembered disk; {@code guestAgent} is the agent's socket, or null; {@code ioLimits} the
     * guest's limits set through {@code PATCH /v1/disks/{disk}}, or null for none;
     * {@code restoreLimits} the limits of its restore stream while it restores (a restart resumes
     * with them), or null.
     */
    record Entry(String name, String path, String format, String guestAgent, ReadLimits ioLimits,
            RestoreLimits restoreLimits) {
        /** A disk without restore limits. */
        public Entry(String name, String path, String format, String guestAgent, ReadLimits ioLimits) {
            this(name, path, format, guestAgent, ioLimits, null);
        }

        /** This entry with the guest limits and restore limits {@code other} remembered, unless this one has its own. */
        public Entry withLimitsOf(Entry other) {
            return new Entry(name, path, format, guestAgent, ioLimits != null ? ioLimits : other.ioLimits,
                    restoreLimits != null ? restoreLimits : other.restoreLimits);
        }
    }

    /** Replaces what is remembered with {@code entries}, all or nothing. */
    void save(List<Entry> entries) throws IOException;
}
