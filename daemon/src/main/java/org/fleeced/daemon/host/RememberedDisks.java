package org.fleeced.daemon.host;

import java.io.IOException;
import java.util.List;

/**
 * Where the {@link DiskTable} keeps what is attached, so that a restarted daemon attaches it
 * again. The daemon keeps it in a file of its state directory; the format is the composition
 * root's business, not the table's.
 */
@FunctionalInterface
public interface RememberedDisks {
    /**
     * One remembered disk; {@code guestAgent} is the agent's socket, or null; {@code ioLimits} the
     * guest's limits set through {@code PATCH /v1/disks/{disk}}, or null for none.
     */
    record Entry(String name, String path, String format, String guestAgent, ReadLimits ioLimits) {
        /** This entry with the guest limits {@code other} remembered, unless this one has its own. */
        public Entry withIoLimitsOf(Entry other) {
            return ioLimits != null || other.ioLimits == null ? this
                    : new Entry(name, path, format, guestAgent, other.ioLimits);
        }
    }

    /** Replaces what is remembered with {@code entries}, all or nothing. */
    void save(List<Entry> entries) throws IOException;
}
