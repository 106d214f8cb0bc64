package org.fleeced.checkpoint;

/**
 * Why an incremental or differential backup cannot start from the base the caller asked for.
 * Each one is answered the same way: take a full backup instead (the caller may let
 * {@link BackupBase#fallBackToFull()} do it).
 */
public enum BaseRefusal {
    /** An incremental backup was asked for, but the disk has no checkpoint yet. */
    NO_CHECKPOINTS,
    /** The named base checkpoint does not exist (deleted, or never created on this disk). */
    BASE_UNKNOWN,
    /** The base, or a checkpoint between it and now, is {@link CheckpointState#INCONSISTENT}. */
    BASE_INCONSISTENT
}
