package org.fleeced.qcow2;

/**
 * A run of guest bytes that one lookup mapped the same way: all of one {@link L2Entry.Kind},
 * and for NORMAL clusters contiguous on the host.
 *
 * @param guestOffset first guest byte
 * @param length      bytes in the run, &gt; 0
 * @param entry       the decoded entry of the run's first cluster
 * @param hostOffset  host offset of the first byte (NORMAL runs), else as in the entry
 */
record ClusterRun(long guestOffset, long length, L2Entry entry, long hostOffset) {
    L2Entry.Kind kind() {
        return entry.kind();
    }
}
