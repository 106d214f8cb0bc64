package org.fleeced.daemon.host;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.job.DiskFleece;
import org.fleeced.job.FleecingJob;

/**
 * A fleecing job as the daemon hosts it: the job, its lease, and what it published per disk; or,
 * for a push job, its {@link PushRun} instead of a lease and exports.
 */
public final class HostedJob {
    /**
     * One disk of the job as published: the backup mode it got, its base checkpoint (null for
     * full), why it fell back to full (null when it did not), the export, the bitmap context.
     */
    public record Disk(String disk, String mode, String base, String fallbackReason, String export,
            String metaContext, DiskFleece fleece) {
    }

    private final FleecingJob job;
    private final String checkpoint;
    private final Instant createdAt;
    private volatile Instant leaseExpiresAt;
    private final List<Disk> disks;
    private final JobFreeze freeze;
    private final JobThrottle throttle;
    /** The copying side of a push job; null for a pull job. */
    private final PushRun push;
    /** The outcome of the finish that decides how the job ends; null until one does. Guarded by the JobTable's monitor. */
    private BackupOutcome decided;
    /** The job as it ended, completed by the finish that decided, for the finishes that waited for it. */
    private final CompletableFuture<JobRecord> ended = new CompletableFuture<>();

    HostedJob(FleecingJob job, String checkpoint, Instant createdAt, Instant leaseExpiresAt, List<Disk> disks,
            JobFreeze freeze, JobThrottle throttle, PushRun push) {
        this.job = job;
        this.freeze = freeze;
        this.throttle = throttle;
        this.push = push;
        this.checkpoint = checkpoint;
        this.createdAt = createdAt;
        this.leaseExpiresAt = leaseExpiresAt;
        this.disks = List.copyOf(disks);
    }

    /** The throttle of the job's reader, over all its fleece exports. */
    public JobThrottle throttle() {
        return throttle;
    }

    public String id() {
        return job.id();
    }

    public FleecingJob job() {
        return job;
    }

    public String checkpoint() {
        return checkpoint;
    }

    public Instant createdAt() {
        return createdAt;
    }

    /** The push of a push job, or null. */
    PushRun push() {
        return push;
    }

    /** When the lease runs out; null for a push job, which has none. */
    public Instant leaseExpiresAt() {
        return leaseExpiresAt;
    }

    void renew(Instant until) {
        leaseExpiresAt = until;
    }

    public List<Disk> disks() {
        return disks;
    }

    /**
     * The job as the API shows it now; {@code endedAt} is null while it runs. Once it has ended,
     * this is what the history keeps.
     */
    public JobRecord record(Instant endedAt) {
        return record(endedAt, null);
    }

    /** The job as it ended, by the finish with {@code outcome}. */
    JobRecord record(Instant endedAt, BackupOutcome outcome) {
        List<JobRecord.Disk> published = disks.stream().map(d -> new JobRecord.Disk(d.disk(), d.mode(), d.base(),
                d.fallbackReason(), d.export(), d.metaContext(), d.fleece().stats(),
                push == null ? null : push.target(d.disk()))).toList();
        List<String> temps = disks.stream().map(d -> d.fleece().tempImagePath().toString()).toList();
        return new JobRecord(id(), job.state().name().toLowerCase(java.util.Locale.ROOT), checkpoint,
                job.failureReason(), createdAt, leaseExpiresAt, endedAt, published, temps, freeze.consistency(),
                freeze.frozenMillis(), outcome == null ? null : JobRecord.outcomeName(outcome),
                push == null ? null : push.progress());
    }

    /**
     * Makes {@code outcome} the one that ends the job, unless another finish decided first: true
     * for the one caller that decides. Called under the JobTable's monitor.
     */
    boolean decideLocked(BackupOutcome outcome) {
        if (decided != null) {
            return false;
        }
        decided = outcome;
        return true;
    }

    /** The job as it ended, once the finish that decided is done (or failed, if that finish failed). */
    CompletableFuture<JobRecord> ended() {
        return ended;
    }

    public Disk disk(String name) {
        return disks.stream().filter(d -> d.disk().equals(name)).findFirst().orElse(null);
    }
}
