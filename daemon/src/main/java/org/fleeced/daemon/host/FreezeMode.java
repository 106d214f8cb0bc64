package org.fleeced.daemon.host;

/** Whether a job freezes its guests' file systems around the snapshot point. */
public enum FreezeMode {
    /** Refuse the job (502 GUEST_AGENT, nothing created) when a guest cannot be frozen. */
    REQUIRED,
    /** Freeze when possible; otherwise the job runs crash-consistent and says so. */
    TRY,
    /** No freeze: a crash-consistent snapshot. */
    OFF
}
