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
    /** One remembered disk; {@code guestAgent} is the agent's socket, or null. */
    record Entry(String name, String path, String format, String guestAgent) {
    }

    /** Replaces what is remembered with {@code entries}, all or nothing. */
    void save(List<Entry> entries) throws IOException;
}
