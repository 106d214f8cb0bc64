package org.fleeced.checkpoint;

/** How a fleecing job ended, as its reader reports it; decides what happens to the checkpoints. */
public enum BackupOutcome {
    /** The reader has everything it needed: the new checkpoint stands. */
    SUCCESS,
    /** The reader failed: every change the job covered is merged back, so the next backup reads it again. */
    FAILURE,
    /** Nobody finished the job (reader gone, daemon stopping): treated exactly as {@link #FAILURE}. */
    ABANDONED
}
