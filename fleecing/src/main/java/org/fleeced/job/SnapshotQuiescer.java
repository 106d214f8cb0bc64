package org.fleeced.job;

/**
 * What quiesces the guests around a job's snapshot point (the daemon freezes their file systems
 * through the guest agent). {@link FleecingJob#start} calls {@link #quiesce()} once the temp
 * images exist, right before it drains the disks, and {@link Quiesced#resume()} right after the
 * drains end, on every path: the guests stay quiesced for the snapshot itself, nothing more.
 */
@FunctionalInterface
public interface SnapshotQuiescer {
    /** Takes the snapshot without quiescing anything: crash-consistent. */
    SnapshotQuiescer NONE = job -> () -> { };

    /**
     * Quiesces the guests of job {@code job} (its id, for what the quiescer reports).
     *
     * @throws QuiesceRefusedException the job must not start without it (nothing stays quiesced)
     */
    Quiesced quiesce(String job) throws QuiesceRefusedException;

    /** Quiesced guests; {@link #resume()} lets them go on and never throws. */
    @FunctionalInterface
    interface Quiesced {
        void resume();
    }

    /** The guests could not be quiesced and the job asked for it; the message says which and why. */
    final class QuiesceRefusedException extends Exception {
        public QuiesceRefusedException(String message) {
            super(message);
        }
    }
}
