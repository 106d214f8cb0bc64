package org.fleeced.daemon.api;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.fleeced.cbw.FleeceStats;
import org.fleeced.cbw.OnCbwError;
import org.fleeced.job.TempFormat;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.daemon.host.FreezeMode;
import org.fleeced.daemon.host.JobRecord;
import org.fleeced.daemon.host.JobRequest;
import org.fleeced.daemon.host.JobTable;
import org.fleeced.daemon.host.JobThrottle;
import org.fleeced.daemon.host.NbdEndpoints;
import org.fleeced.daemon.host.PushTargetRequest;
import org.fleeced.daemon.host.SnapshotChecksums;

/** The handlers of the job operations: startJob, listJobs, getJob, renewLease, discardRanges, finishJob. */
final class JobOperations {
    private final JobTable jobs;
    private final NbdEndpoints nbd;
    private final JobDefaults defaults;
    private final SnapshotChecksums checksums;

    JobOperations(JobTable jobs, NbdEndpoints nbd, JobDefaults defaults, SnapshotChecksums checksums) {
        this.jobs = jobs;
        this.nbd = nbd;
        this.defaults = defaults;
        this.checksums = checksums;
    }

    void bind(Map<String, ApiOperation> ops) {
        ops.put("startJob", req -> ApiResponse.created(body(jobs.start(request(req.body(JobBodies.StartJob.class))).record(null))));
        ops.put("listJobs", req -> ApiResponse.ok(jobs.list().stream().map(this::body).toList()));
        ops.put("getJob", req -> ApiResponse.ok(body(jobs.require(req.path("job")))));
        ops.put("renewLease", req -> {
            JobBodies.RenewLease renew = req.body(JobBodies.RenewLease.class, new JobBodies.RenewLease(null));
            long seconds = renew.leaseSeconds() != null ? renew.leaseSeconds() : defaults.leaseSeconds();
            return ApiResponse.ok(body(jobs.renew(req.path("job"), Duration.ofSeconds(seconds)).record(null)));
        });
        ops.put("updateJob", req -> {
            JobBodies.UpdateJob update = req.body(JobBodies.UpdateJob.class);
            if (update.readLimits() == null) {
                return ApiResponse.ok(body(jobs.require(req.path("job"))));
            }
            return ApiResponse.ok(body(jobs.setReadLimits(req.path("job"), update.readLimits()).record(null)));
        });
        ops.put("discardRanges", req -> {
            JobBodies.DiscardRanges d = req.body(JobBodies.DiscardRanges.class);
            List<long[]> ranges = d.ranges().stream().map(r -> new long[] {r.offset(), r.length()}).toList();
            return ApiResponse.ok(body(jobs.discard(req.path("job"), d.disk(), ranges).record(null)));
        });
        ops.put("finishJob", req -> {
            String outcome = req.body(JobBodies.FinishJob.class).outcome();
            BackupOutcome o = "success".equals(outcome) ? BackupOutcome.SUCCESS : BackupOutcome.FAILURE;
            return ApiResponse.ok(body(jobs.finish(req.path("job"), o, "the caller reported " + outcome)));
        });
    }

    private JobRequest request(JobBodies.StartJob s) {
        double timeout = s.cbwTimeoutSeconds() != null ? s.cbwTimeoutSeconds() : defaults.cbwTimeoutSeconds();
        long lease = s.leaseSeconds() != null ? s.leaseSeconds() : defaults.leaseSeconds();
        double freezeTimeout = s.freezeTimeoutSeconds() != null ? s.freezeTimeoutSeconds()
                : defaults.freezeTimeoutSeconds();
        String format = s.tempFormat() != null ? s.tempFormat() : defaults.tempFormat();
        String policy = s.onCbwError() != null ? s.onCbwError() : defaults.onCbwError();
        return new JobRequest(s.disks(), s.checkpoint(), s.incrementalFrom(), s.differentialFrom(),
                Boolean.TRUE.equals(s.allowFullFallback()),
                TempFormat.valueOf(format.toUpperCase(Locale.ROOT)),
                s.tempDirectory(),
                s.tempQuotaBytes() != null ? s.tempQuotaBytes() : defaults.tempQuotaBytes(),
                s.tempReserveBytes() != null ? s.tempReserveBytes() : defaults.tempReserveBytes(),
                OnCbwError.valueOf(policy.toUpperCase(Locale.ROOT).replace('-', '_')),
                Duration.ofNanos((long) (timeout * 1e9)),
                s.cbwClusterSize() != null ? s.cbwClusterSize() : 0,
                s.allowDiscard() == null || s.allowDiscard(),
                s.exportName(),
                Duration.ofSeconds(lease),
                s.freeze() == null ? FreezeMode.OFF : FreezeMode.valueOf(s.freeze().toUpperCase(Locale.ROOT)),
                Duration.ofMillis((long) (freezeTimeout * 1000)),
                Boolean.TRUE.equals(s.keepWholeSnapshot()),
                s.readLimits() != null ? s.readLimits() : defaults.readLimits(),
                targets(s.targets()),
                Boolean.TRUE.equals(s.keepPartial()),
                s.copiesInFlight() != null ? s.copiesInFlight() : defaults.copiesInFlight());
    }

    private static Map<String, PushTargetRequest> targets(Map<String, JobBodies.Target> targets) {
        Map<String, PushTargetRequest> out = new LinkedHashMap<>();
        if (targets != null) {
            targets.forEach((disk, t) -> out.put(disk, new PushTargetRequest(t.path(), t.format(), t.backingFile(),
                    t.backingFormat(), t.uri())));
        }
        return out;
    }

    JobBodies.Job body(JobRecord job) {
        JobThrottle throttle = job.endedAt() == null ? jobs.throttle(job.id()) : null;
        List<JobBodies.JobDisk> disks = job.disks().stream().map(d -> new JobBodies.JobDisk(d.disk(), d.mode(),
                d.base(), d.fallbackReason(), d.export(), d.export() == null ? null : nbd.tcpUri(d.export()),
                d.export() == null ? null : nbd.unixUri(d.export()),
                d.metaContext(), stats(d.stats(), job.endedAt() == null ? checksums.progress(job.id(), d.disk()) : null,
                        throttle), target(d.target())))
                .toList();
        JobRecord.Progress p = job.progress();
        return new JobBodies.Job(job.id(), job.state(), job.checkpoint(), job.failureReason(),
                job.createdAt().toString(), job.leaseExpiresAt() == null ? null : job.leaseExpiresAt().toString(),
                job.endedAt() == null ? null : job.endedAt().toString(), job.consistency(), job.frozenMillis(),
                throttle == null ? null : throttle.limits(), disks,
                p == null ? null : new JobBodies.Progress(p.doneBytes(), p.totalBytes(), p.bytesPerSecond(), p.etaSeconds()));
    }

    private static JobBodies.Target target(JobRecord.Target t) {
        return t == null ? null : new JobBodies.Target(t.path(), t.format(), t.backingFile(), null, t.uri(),
                t.bytesWritten());
    }

    private static JobBodies.Stats stats(FleeceStats s, SnapshotChecksums.Progress checksum, JobThrottle throttle) {
        return new JobBodies.Stats(s.bytesReadable(), s.bytesRead(), s.bytesDiscarded(), s.clustersCopied(),
                s.tempBytes(), s.writesDelayedByCbw(), s.cbwDelayNanos(), s.writesDelayedByReads(), s.readDelayNanos(),
                checksum == null ? null : checksum.doneBytes(), checksum == null ? null : checksum.sizeBytes(),
                throttle == null ? null : throttle.effectiveBytesPerSecond(),
                throttle == null || throttle.guestWriteP99Micros() < 0 ? null : throttle.guestWriteP99Micros());
    }
}
