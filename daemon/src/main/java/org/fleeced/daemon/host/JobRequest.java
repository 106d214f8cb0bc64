package org.fleeced.daemon.host;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.fleeced.cbw.OnCbwError;
import org.fleeced.job.TempFormat;

/**
 * A fleecing job as the caller asked for it, with the daemon's defaults filled in.
 *
 * @param incrementalFrom  the base checkpoint of an incremental backup, or null
 * @param differentialFrom the base checkpoint of a differential backup, or null
 * @param tempDirectory    the requested temp directory, or null for the first configured one
 * @param clusterBytes     the CBW cluster, or 0 for the default
 * @param exportName       the export name to use (a random suffix is added), or null
 * @param freeze           whether to freeze the guests' file systems around the snapshot point
 * @param freezeTimeout    how long a guest agent may take to answer, and the longest the guests stay frozen
 * @param keepWholeSnapshot an incremental job keeps its whole snapshot (for a checksum of all of it)
 * @param readLimits       the reader's limits over all the job's exports (fixed or adaptive)
 * @param targets          by disk name, where a push job writes; empty for a pull job
 * @param keepPartial      a failed push leaves its target files instead of deleting them
 * @param copiesInFlight   how many copy requests a push keeps in flight per disk
 */
public record JobRequest(List<String> disks, String checkpoint, String incrementalFrom, String differentialFrom,
        boolean allowFullFallback, TempFormat tempFormat, String tempDirectory, long tempQuotaBytes,
        long tempReserveBytes, OnCbwError onCbwError, Duration cbwTimeout, long clusterBytes, boolean allowDiscard,
        String exportName, Duration lease, FreezeMode freeze, Duration freezeTimeout,
        boolean keepWholeSnapshot, ReadLimits readLimits, Map<String, PushTargetRequest> targets,
        boolean keepPartial, int copiesInFlight) {

    public JobRequest {
        targets = targets == null ? Map.of() : Map.copyOf(targets);
    }
}
