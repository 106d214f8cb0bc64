package org.fleeced.daemon.api;

import org.fleeced.daemon.host.ReadLimits;

/**
 * What a startJob or renewLease call gets for each setting it leaves out: the {@code defaults}
 * section of the daemon's configuration, applied by {@link JobOperations}.
 *
 * @param tempFormat        {@code raw} or {@code qcow2}
 * @param onCbwError        {@code break-snapshot} or {@code break-guest-write}
 * @param freezeTimeoutSeconds how long a guest agent may take to freeze, and the longest a guest stays frozen
 * @param readLimits        the limits of a job's reader when startJob gives none
 * @param copiesInFlight    copy requests a push job keeps in flight per disk
 */
public record JobDefaults(String tempFormat, long tempQuotaBytes, long tempReserveBytes, long leaseSeconds,
        double cbwTimeoutSeconds, String onCbwError, double freezeTimeoutSeconds, ReadLimits readLimits,
        int copiesInFlight) {
}
