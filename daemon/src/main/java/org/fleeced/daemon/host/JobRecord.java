package org.fleeced.daemon.host;

import java.time.Instant;
import java.util.List;
import java.util.Locale;
import org.fleeced.cbw.FleeceStats;
import org.fleeced.checkpoint.BackupOutcome;

/**
 * A fleecing job as the API shows it, read at one moment: what {@link JobHistory} keeps of a job
 * once it has ended (the live job, its filters and bitmaps are gone by then).
 *
 * @param state         {@code starting}, {@code running}, {@code failed} or {@code finished}
 * @param failureReason why it failed; {@code shutdown} when the daemon stopped while it ran,
 *                      {@code crash} when the daemon died while it ran; null otherwise
 * @param endedAt       when it ended (for a crash: when the next start found it); null while it runs
 * @param tempImages    the temp image files the job created, so a start can delete what a crash left
 * @param consistency   {@code application} when the guests were frozen for the snapshot, else {@code crash}
 * @param frozenMillis  how long the guests were frozen (0 without a freeze)
 * @param outcome       the outcome that ended the job ({@code success}, {@code failure} or
 *                      {@code abandoned}, as {@link BackupOutcome} names them in lower case), which
 *                      a retried finish is compared with; null while it runs, and in records
 *                      written before it was kept
 * @param leaseExpiresAt when the lease runs out; null for a push job, which has none
 * @param progress      a push job's progress; null for a pull job
 */
public record JobRecord(String id, String state, String checkpoint, String failureReason, Instant createdAt,
        Instant leaseExpiresAt, Instant endedAt, List<Disk> disks, List<String> tempImages, String consistency,
        long frozenMillis, String outcome, Progress progress) {

    /** The failure reason of a job that was running when the daemon died. */
    public static final String CRASH = "crash";

    /** One disk of the job as published, with its counters. */
    public record Disk(String disk, String mode, String base, String fallbackReason, String export, String metaContext,
            FleeceStats stats, Target target) {
    }

    /**
     * Where a push job writes one disk.
     *
     * @param backingFile  the previous backup the file names as its backing file, or null
     * @param keepPartial  whether a failed push leaves the file (otherwise it is deleted)
     * @param bytesWritten bytes written to it in write requests
     * @param uri          the NBD export written instead of a file (path, format and backing file null)
     */
    public record Target(String path, String format, String backingFile, boolean keepPartial, long bytesWritten,
            String uri) {
    }

    /**
     * How far a push job is: data bytes copied of those it copies (zeroes written without data
     * not counted), the mean rate since it started, and the seconds left at that rate (null until
     * it is known).
     */
    public record Progress(long doneBytes, long totalBytes, long bytesPerSecond, Long etaSeconds) {
    }

    /** Whether this is a push job (it writes targets itself instead of exporting snapshots). */
    public boolean push() {
        return progress != null;
    }

    public JobRecord {
        disks = List.copyOf(disks);
        tempImages = tempImages == null ? List.of() : List.copyOf(tempImages);
        consistency = consistency == null ? "crash" : consistency;
    }

    /** A job record without the outcome that ended it (a running job, or one written before it was kept). */
    public JobRecord(String id, String state, String checkpoint, String failureReason, Instant createdAt,
            Instant leaseExpiresAt, Instant endedAt, List<Disk> disks, List<String> tempImages, String consistency,
            long frozenMillis) {
        this(id, state, checkpoint, failureReason, createdAt, leaseExpiresAt, endedAt, disks, tempImages, consistency,
                frozenMillis, null, null);
    }

    /**
     * Whether the job ended by a finish with outcome success (its snapshot may still have broken:
     * then its state is failed). For a record without its outcome, the state says it.
     */
    public boolean endedBySuccess() {
        return outcome != null ? outcome.equals(outcomeName(BackupOutcome.SUCCESS)) : "finished".equals(state);
    }

    /**
     * This ended job, for a finish that asked the outcome that ended it: a retry (whose first
     * answer may have been lost) gets what the first finish got. Success matches only success;
     * failure matches every other end (a failure, an expired lease, a shutdown, a crash), since
     * they all leave the job as if it never happened. Another outcome is refused: JOB_ENDED.
     */
    public JobRecord retriedAs(BackupOutcome asked) throws HostRefusal {
        if (endedBySuccess() == (asked == BackupOutcome.SUCCESS)) {
            return this;
        }
        String how = endedBySuccess() ? "with outcome success"
                : "as a failure" + (failureReason == null ? "" : " (" + failureReason + ")");
        throw new HostRefusal(ProblemReason.JOB_ENDED, "Job '" + id + "' has ended " + how
                + "; finishing it with outcome " + outcomeName(asked) + " changes nothing.");
    }

    /** How {@link #outcome} names a {@link BackupOutcome}. */
    static String outcomeName(BackupOutcome outcome) {
        return outcome.name().toLowerCase(Locale.ROOT);
    }

    /** This job, which was running when the daemon died, as failed with reason {@link #CRASH}. */
    JobRecord crashed(Instant foundAt) {
        return new JobRecord(id, "failed", checkpoint, CRASH, createdAt, leaseExpiresAt, foundAt, disks, tempImages,
                consistency, frozenMillis, outcomeName(BackupOutcome.ABANDONED), progress);
    }
}
