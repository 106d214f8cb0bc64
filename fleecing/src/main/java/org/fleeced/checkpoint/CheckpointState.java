package org.fleeced.checkpoint;

/**
 * How far a checkpoint's bitmap can be trusted. Whether it is still recording is a separate
 * fact ({@link CheckpointInfo#recording()}): only the newest checkpoint records.
 */
public enum CheckpointState {
    /** The newest checkpoint, recording every guest change since it was created. */
    RECORDING,
    /** Superseded by a newer checkpoint; holds exactly the changes between it and the next one. */
    FROZEN,
    /**
     * Rebuilt after an unclean shutdown from the sidecar intent log: a superset of the true
     * changes, so still a valid base for incremental backup. Records when it is the newest.
     */
    RECOVERED,
    /** Cannot be trusted (left in use by another writer, no intent log): never a backup base. */
    INCONSISTENT
}
