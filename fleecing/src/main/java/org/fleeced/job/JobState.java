package org.fleeced.job;

/** The life of a {@link FleecingJob}. */
public enum JobState {
    /** Temp images are being created and the filters inserted. */
    STARTING,
    /** The snapshot is exported and intact. */
    RUNNING,
    /** The snapshot broke (see {@link FleecingJob#failureReason()}), or the job ended with a failure. */
    FAILED,
    /** The job ended with success; its filters and temp images are gone. */
    FINISHED
}
