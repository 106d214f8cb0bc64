package org.fleeced.daemon.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.logging.Logger;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.cbw.FleeceStats;
import org.fleeced.checkpoint.BackupBase;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.checkpoint.CheckpointException;
import org.fleeced.checkpoint.CheckpointStart;
import org.fleeced.daemon.nbd.client.NbdClientTls;
import org.fleeced.daemon.nbd.server.DirtyBitmapContext;
import org.fleeced.daemon.nbd.server.ExtentStatusContext;
import org.fleeced.daemon.nbd.server.MetaContextSource;
import org.fleeced.daemon.nbd.server.NbdExport;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.job.DiskBusyException;
import org.fleeced.job.DiskFleece;
import org.fleeced.job.FleecingJob;
import org.fleeced.job.FleecingJobSpec;
import org.fleeced.job.SnapshotQuiescer;
import org.fleeced.job.TempSettings;
import org.fleeced.throttle.LatencyWindow;
import org.fleeced.throttle.ThrottleFilter;

/**
 * The fleecing jobs of the daemon: starting one takes the snapshot and publishes a read-only
 * export per disk (named with a random suffix, so a stale reader never reads the next job);
 * finishing it (by the caller, an expired lease, or shutdown) removes the exports and ends the
 * checkpoint with the outcome. Ended jobs stay readable, across restarts too, in the
 * {@link JobHistory}. A job may freeze its guests' file systems around the snapshot point
 * through their agents ({@link GuestFreezer}).
 *
 * <p>A push job (one with {@code targets}) publishes no export and has no lease: its backup
 * files are created before the snapshot is taken ({@link PushJobs}), its {@link PushRun} copies the
 * snapshot into them and ends the job by itself. A caller's failure, or a shutdown, cancels the
 * push and waits for it to end the job.
 *
 * <p>Thread-safe: the table's monitor guards the maps; the job itself is thread-safe.
 */
public final class JobTable {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.jobs");
    /** Made on the first job, not at start: a SecureRandom loads the security providers. */
    private static final class ExportSuffixes {
        static final SecureRandom RANDOM = new SecureRandom();
    }

    private final DiskTable disks;
    private final NbdExportRegistry exports;
    private final AllowedPaths tempDirs;
    private final Events events;
    private final Clock clock;
    private final GuestFreezer freezer;
    private final PushJobs pushes;
    /** Running jobs by id. Guarded by this. */
    private final Map<String, HostedJob> running = new LinkedHashMap<>();
    /** The ended jobs, and the durable record of which jobs run. */
    private final JobHistory history;
    /**
     * The counters of every job that ended since the daemon started, added when each ends, so the
     * totals {@link #statsOfAllJobs} reports never go down (a job's own counters vanish with it).
     * Guarded by this.
     */
    private FleeceStats endedStats = FleeceStats.ZERO;

    public JobTable(DiskTable disks, NbdExportRegistry exports, AllowedPaths tempDirs, AllowedPaths backupDirs,
            NbdClientTls targetTls, BackupChains chains, Events events, Clock clock, JobHistory history,
            GuestFreezer freezer) {
        this.disks = disks;
        this.pushes = new PushJobs(new PushTargets(backupDirs, chains, targetTls), chains, events);
        this.freezer = freezer;
        this.history = history;
        this.exports = exports;
        this.tempDirs = tempDirs;
        this.events = events;
        this.clock = clock;
    }

    /** Takes the snapshot and exports it, or starts pushing it; see the class comment. */
    public HostedJob start(JobRequest request) throws HostRefusal, BlockIOException {
        if (request.incrementalFrom() != null && request.differentialFrom() != null) {
            throw new HostRefusal(ProblemReason.BASE_AMBIGUOUS,
                    "Give incrementalFrom or differentialFrom, not both.");
        }
        List<ActiveDisk> active = new ArrayList<>();
        List<AttachedDisk> attached = new ArrayList<>();
        for (String name : request.disks()) {
            AttachedDisk disk = disks.require(name);
            DiskBusy.requireNoJob(disk, "finish it first.");
            DiskBusy.requireNotRestoring(disk, "start the job");
            active.add(disk.active());
            attached.add(disk);
        }
        JobFreeze freeze = freezeFor(request, attached);
        PushRun push = request.targets().isEmpty() ? null : pushes.prepare(request, active);
        FleecingJob job;
        try {
            job = startJob(request, active, freeze);
            if (freeze.overran() && freeze.mode() == FreezeMode.REQUIRED) {
                job.finish(BackupOutcome.FAILURE, "the snapshot outlasted the guest freeze");
                throw new HostRefusal(ProblemReason.GUEST_AGENT, "freeze: required, but the snapshot took longer than"
                        + " freezeTimeoutSeconds and the guests were thawed before it; nothing was kept. Retry, or raise"
                        + " freezeTimeoutSeconds.");
            }
        } catch (HostRefusal | BlockIOException | RuntimeException e) {
            if (push != null) {
                push.abandon(e);
            }
            throw e;
        }
        if (push != null) {
            try {
                pushes.dropNeedlessBacking(push, job);
            } catch (HostRefusal | BlockIOException | RuntimeException e) {
                job.finish(BackupOutcome.FAILURE, "its target could not be made again without a backing file: " + e);
                push.abandon(e);
                throw e;
            }
        }
        if (push != null) {
            return startPush(job, request, freeze, push);
        }
        HostedJob hosted;
        try {
            hosted = publish(job, request, freeze);
        } catch (HostRefusal | RuntimeException e) {
            // a refused name, or a bug (answered as a 500): either way no disk stays claimed by the job
            exports.list().stream().filter(x -> x.description().startsWith(exportDescription(job, "")))
                    .forEach(x -> exports.unregister(x.name()));
            job.finish(BackupOutcome.FAILURE, "its exports could not be published: " + e.getMessage());
            throw e;
        }
        started(hosted, request, freeze);
        return hosted;
    }

    /** Starts the fleecing job, its refusals turned into the API's reasons. */
    private FleecingJob startJob(JobRequest request, List<ActiveDisk> active, JobFreeze freeze)
            throws HostRefusal, BlockIOException {
        try {
            return FleecingJob.start(spec(request, active, freeze));
        } catch (SnapshotQuiescer.QuiesceRefusedException e) {
            throw new HostRefusal(ProblemReason.GUEST_AGENT, e.getMessage()
                    + ". Nothing was created; retry when the agent answers, or start with freeze: try.");
        } catch (CheckpointException e) {
            if (e.refusal() != null) {
                throw new HostRefusal(HostRefusal.baseReason(e.refusal()), e.getMessage()
                        + ". Take a full backup (omit incrementalFrom), or retry with allowFullFallback: true.");
            }
            throw new HostRefusal(ProblemReason.CHECKPOINT_EXISTS, e.getMessage()
                    + ". Choose a new checkpoint name.");
        } catch (BlockIOException e) {
            if (e.errno() == Errno.ENOSPC) {
                throw new HostRefusal(ProblemReason.TEMP_SPACE, e.getMessage()
                        + ". Free space in the temp directory or lower tempReserveBytes.");
            }
            throw e;
        } catch (DiskBusyException e) {
            // another start claimed the disk after the check above
            throw new DiskBusy(e.disk(), null, "finish it first.");
        }
    }

    private void started(HostedJob hosted, JobRequest request, JobFreeze freeze) {
        synchronized (this) {
            running.put(hosted.id(), hosted);
        }
        history.started(hosted.record(null));
        LOG.info("job " + hosted.id() + ": started on " + request.disks() + ", checkpoint " + request.checkpoint()
                + (hosted.push() == null ? ", exports " + hosted.disks().stream().map(HostedJob.Disk::export).toList()
                : ", pushing to " + request.targets().values().stream().map(t -> t.path() != null ? t.path() : t.uri())
                        .toList()) + ", "
                + freeze.consistency() + "-consistent"
                + (freeze.frozenMillis() > 0 ? " (guests frozen " + freeze.frozenMillis() + " ms)" : ""));
        events.publish("job-started", Map.of("job", hosted.id(), "disks", request.disks(),
                "checkpoint", request.checkpoint(), "consistency", freeze.consistency(),
                "frozenMillis", freeze.frozenMillis()));
    }

    /** Hosts a push job (no exports, no lease) and starts its copy, which ends the job. */
    private HostedJob startPush(FleecingJob job, JobRequest request, JobFreeze freeze, PushRun push)
            throws BlockIOException {
        HostedJob hosted = new HostedJob(job, request.checkpoint(), Instant.now(clock), null, PushJobs.disks(job),
                freeze, null, push);
        try {
            started(hosted, request, freeze);
        } catch (RuntimeException e) {
            // a bug (answered as a 500): the job never happened, and no file claims to be its backup
            synchronized (this) {
                running.remove(hosted.id());
            }
            job.finish(BackupOutcome.FAILURE, "it could not be hosted: " + e);
            push.abandon(e);
            throw e;
        }
        push.start(job.disks(), job.id(), request.checkpoint(), (outcome, why) -> endPush(hosted, outcome, why));
        return hosted;
    }

    /**
     * The job's guest freeze: every distinct agent of its disks. {@code required} needs an agent
     * on every disk, since a disk without one cannot be frozen.
     */
    private JobFreeze freezeFor(JobRequest request, List<AttachedDisk> attached) throws HostRefusal {
        List<java.nio.file.Path> agents = new ArrayList<>();
        List<String> without = new ArrayList<>();
        for (AttachedDisk disk : attached) {
            if (disk.guestAgent() != null) {
                agents.add(disk.guestAgent());
            } else {
                without.add(disk.name());
            }
        }
        if (request.freeze() == FreezeMode.REQUIRED && !without.isEmpty()) {
            throw new HostRefusal(ProblemReason.INVALID_JOB, "freeze: required, but disks " + without
                    + " name no guest agent; attach them with guestAgent.socket, or start with freeze: try.");
        }
        return freezer.forJob(request.freeze(), agents, without.isEmpty(), request.freezeTimeout());
    }

    private HostedJob publish(FleecingJob job, JobRequest request, JobFreeze freeze) throws HostRefusal {
        byte[] random = new byte[4];
        ExportSuffixes.RANDOM.nextBytes(random);
        String suffix = HexFormat.of().formatHex(random);
        List<HostedJob.Disk> published = new ArrayList<>();
        List<LatencyWindow> guests = new ArrayList<>();
        for (DiskFleece fleece : job.disks()) {
            disks.find(fleece.diskName()).ifPresent(d -> guests.add(d.guestIo().writeLatencies()));
        }
        JobThrottle throttle = new JobThrottle(request.readLimits(), guests);
        for (DiskFleece fleece : job.disks()) {
            String base = request.exportName() != null ? request.exportName()
                    + (job.disks().size() > 1 ? "-" + fleece.diskName() : "") : fleece.diskName() + "-fleece";
            String exportName = base + "-" + suffix;
            CheckpointStart start = fleece.checkpoint();
            String baseName = start.baseCheckpoint();
            List<MetaContextSource> contexts = new ArrayList<>();
            contexts.add(ExtentStatusContext.baseAllocation(fleece.exportNode()));
            String metaContext = null;
            if (start.changes() != null && baseName != null) {
                DirtyBitmapContext dirty = new DirtyBitmapContext(baseName, start.changes());
                contexts.add(dirty);
                metaContext = dirty.name();
            }
            if (exports.find(exportName).isPresent()) {
                throw new HostRefusal(ProblemReason.EXPORT_NAME_IN_USE, "An NBD export named '" + exportName
                        + "' exists; retry, or pick another exportName.");
            }
            exports.register(new NbdExport(exportName, exportDescription(job, fleece.diskName()),
                    new ThrottleFilter(fleece.exportNode(), throttle.throttle()), true, request.allowDiscard(), true,
                    contexts));
            String mode = start.kind().name().toLowerCase(Locale.ROOT);
            String fallback = start.fallback() == null ? null : HostRefusal.baseReason(start.fallback()).name();
            published.add(new HostedJob.Disk(fleece.diskName(), mode, baseName, fallback, exportName, metaContext, fleece));
        }
        return new HostedJob(job, request.checkpoint(), Instant.now(clock), Instant.now(clock).plus(request.lease()),
                published, freeze, throttle, null);
    }

    private static String exportDescription(FleecingJob job, String disk) {
        return "fleecing job " + job.id() + " of disk " + disk;
    }

    /** A running job's reader throttle, or null when the job is not running (or pushes, and has no reader). */
    public synchronized JobThrottle throttle(String id) {
        HostedJob job = running.get(id);
        return job == null ? null : job.throttle();
    }

    /** Changes the limits of a running job's reader; reads waiting now are judged by the new ones. */
    public HostedJob setReadLimits(String id, ReadLimits limits) throws HostRefusal {
        HostedJob job = requireRunning(id);
        requirePull(job, "has no reader to limit");
        job.throttle().set(limits);
        events.publish("job-read-limits", Map.of("job", id, "bytesPerSecond", limits.bytesPerSecond(),
                "opsPerSecond", limits.opsPerSecond(), "guestLatencyTargetMillis", limits.guestLatencyTargetMillis()));
        return job;
    }

    /** Moves the adaptive read rates of the running jobs; called every few hundred milliseconds. */
    public void tickThrottles() {
        for (HostedJob job : running()) {
            if (job.throttle() != null) {
                job.throttle().tick();
            }
        }
    }

    /**
     * The job's spec. Both kinds of base name a checkpoint, and both read the changes since it on
     * every disk; whether that was incremental (the disk's newest) is what the start reports.
     */
    private FleecingJobSpec spec(JobRequest request, List<ActiveDisk> active, JobFreeze freeze) throws HostRefusal {
        BackupBase base = request.incrementalFrom() != null ? BackupBase.differentialFrom(request.incrementalFrom())
                : request.differentialFrom() != null ? BackupBase.differentialFrom(request.differentialFrom())
                : BackupBase.full();
        if (request.allowFullFallback() && base.kind() != BackupBase.Kind.FULL) {
            base = base.orFullWhenRefused();
        }
        FleecingJobSpec.Builder builder = FleecingJobSpec.builder(active, new TempSettings(request.tempFormat(),
                        tempDirectory(request.tempDirectory()), request.tempQuotaBytes(), request.tempReserveBytes()))
                .checkpoint(request.checkpoint())
                .base(base)
                .onCbwError(request.onCbwError())
                .cbwTimeout(request.cbwTimeout())
                .allowDiscard(request.allowDiscard())
                .quiescer(freeze)
                .keepWholeSnapshot(request.keepWholeSnapshot());
        if (request.clusterBytes() > 0) {
            builder.clusterBytes(request.clusterBytes());
        }
        try {
            return builder.build();
        } catch (IllegalArgumentException e) {
            throw new HostRefusal(ProblemReason.INVALID_JOB, e.getMessage() + ".");
        }
    }

    private Path tempDirectory(String requested) throws HostRefusal {
        try {
            if (requested == null) {
                Path dir = tempDirs.roots().getFirst();
                Files.createDirectories(dir);
                return dir;
            }
            Path dir = tempDirs.checkDirectory(requested);
            Files.createDirectories(dir);
            return dir;
        } catch (AllowedPaths.PathRefused e) {
            throw new HostRefusal(ProblemReason.PATH_NOT_ALLOWED, e.getMessage() + ".");
        } catch (IOException e) {
            throw new HostRefusal(ProblemReason.TEMP_DIRECTORY,
                    "Cannot use the temp directory: " + e.getMessage() + ".");
        }
    }

    /** A running job, or one the history still keeps (also from before a restart), as it is now. */
    public synchronized JobRecord require(String id) throws HostRefusal {
        HostedJob job = running.get(id);
        if (job != null) {
            return job.record(null);
        }
        return history.find(id).orElseThrow(() -> new HostRefusal(ProblemReason.JOB_UNKNOWN,
                "No job '" + id + "' (ended jobs are kept for 24 hours, or the last "
                + JobHistory.KEEP_COUNT + "); list jobs with GET /v1/jobs."));
    }

    /** The running jobs, then the ended ones the history keeps (oldest end first). */
    public synchronized List<JobRecord> list() {
        List<JobRecord> all = new ArrayList<>();
        running.values().forEach(j -> all.add(j.record(null)));
        all.addAll(history.list());
        return all;
    }

    /** The running jobs. */
    public synchronized List<HostedJob> running() {
        return new ArrayList<>(running.values());
    }

    public synchronized HostedJob renew(String id, Duration lease) throws HostRefusal {
        HostedJob job = requireRunning(id);
        requirePull(job, "has no lease");
        job.renew(Instant.now(clock).plus(lease));
        return job;
    }

    /** One disk of a running job. */
    public HostedJob.Disk requireRunningDisk(String id, String disk) throws HostRefusal {
        HostedJob job = requireRunning(id);
        requirePull(job, "exports no snapshot");
        HostedJob.Disk d = job.disk(disk);
        if (d == null) {
            throw new HostRefusal(ProblemReason.DISK_NOT_IN_JOB,
                    "Job '" + id + "' does not cover disk '" + disk + "'.");
        }
        return d;
    }

    /** Discards ranges of one disk's snapshot for a reader that cannot send TRIM. */
    public HostedJob discard(String id, String disk, List<long[]> ranges) throws HostRefusal, BlockIOException {
        HostedJob job = requireRunning(id);
        HostedJob.Disk d = requireRunningDisk(id, disk);
        long size = d.fleece().snapshot().size();
        for (long[] r : ranges) {
            if (r[0] > size || r[1] > size - r[0]) {
                throw new HostRefusal(ProblemReason.RANGE_OUTSIDE_DISK, "Range [" + r[0] + ", +"
                        + r[1] + ") is outside disk '" + disk + "' of " + size + " bytes.");
            }
        }
        for (long[] r : ranges) {
            d.fleece().snapshot().discard(r[0], r[1]);
        }
        return job;
    }

    /**
     * Ends a running job with the caller's outcome. Of several finishes of one job, also at the
     * same time, exactly one decides; the others (and every later retry) get the ended job when
     * they asked the same outcome, and {@code JOB_ENDED} when they asked another one (see
     * {@link JobRecord#retriedAs}). A push job ends by itself: a failure cancels its copy and
     * returns once the push has ended the job; a success is refused (409 PUSH_JOB).
     */
    public JobRecord finish(String id, BackupOutcome outcome, String why) throws HostRefusal {
        HostedJob job;
        synchronized (this) {
            job = running.get(id);
            if (job == null) {
                return require(id).retriedAs(outcome);
            }
            if (job.push() == null && !job.decideLocked(outcome)) {
                job = null;
            }
        }
        if (job != null && job.push() != null) {
            return cancelPush(job, outcome, why);
        }
        if (job == null) {
            return endedBy(id).retriedAs(outcome);
        }
        return decided(job, outcome, why);
    }

    /** Ends the job with the outcome that decided; completes the wait of the finishes that did not. */
    private JobRecord decided(HostedJob job, BackupOutcome outcome, String why) {
        try {
            JobRecord record = end(job, outcome, why);
            job.ended().complete(record);
            return record;
        } catch (RuntimeException e) {
            job.ended().completeExceptionally(e);
            throw e;
        }
    }

    /** A caller's finish of a push job: only a failure, which cancels the copy; returns once the push has ended the job. */
    private JobRecord cancelPush(HostedJob job, BackupOutcome outcome, String why) throws HostRefusal {
        if (outcome == BackupOutcome.SUCCESS) {
            throw new HostRefusal(ProblemReason.PUSH_JOB, "Job '" + job.id() + "' is a push job: it finishes by itself"
                    + " when every disk is copied; finish it with failure to cancel it.");
        }
        job.push().cancel(why);
        try {
            job.push().awaitEnd();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return require(job.id());
    }

    /** How a push ends its own job, once its copy is over: the one finish that decides. */
    private JobRecord endPush(HostedJob job, BackupOutcome outcome, String why) throws HostRefusal {
        synchronized (this) {
            if (!running.containsKey(job.id()) || !job.decideLocked(outcome)) {
                return require(job.id());
            }
        }
        return decided(job, outcome, why);
    }

    /** The record of a job another finish is ending, once that finish is done. */
    private JobRecord endedBy(String id) throws HostRefusal {
        HostedJob job;
        synchronized (this) {
            job = running.get(id);
        }
        if (job == null) {
            return require(id);
        }
        try {
            return job.ended().join();
        } catch (CompletionException e) {
            // the deciding finish failed (a bug, answered there as a 500): the job is as it was left
            return require(id);
        }
    }

    /** Removes the job's exports and ends it: the finish that decided does this once. */
    private JobRecord end(HostedJob job, BackupOutcome outcome, String why) {
        String id = job.id();
        for (HostedJob.Disk d : job.disks()) {
            if (d.export() != null) {
                exports.unregister(d.export());
            }
        }
        try {
            job.job().finish(outcome, why);
        } catch (BlockIOException e) {
            LOG.severe("job " + id + ": finishing failed: " + e);
        }
        JobRecord record = job.record(Instant.now(clock), outcome);
        synchronized (this) {
            running.remove(id);
            endedStats = endedStats.plus(diskStats(job));
            history.ended(record);
        }
        pushes.ended(job, record);
        String state = job.job().state().name().toLowerCase(Locale.ROOT);
        LOG.info("job " + id + ": " + state + " (" + why + ")"
                + (job.job().failureReason() == null ? "" : ": " + job.job().failureReason()));
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("job", id);
        data.put("why", why);
        if (job.job().failureReason() != null) {
            data.put("failureReason", job.job().failureReason());
        }
        if (job.push() != null) {
            data.put("progress", PushJobs.progress(job.push().progress()));
        }
        events.publish("job-" + state, data);
        return record;
    }

    /** Finishes, as failures, the jobs whose lease ran out. Called periodically. */
    public void expireLeases() {
        Instant now = Instant.now(clock);
        List<String> expired;
        synchronized (this) {
            expired = running.values().stream().filter(j -> j.leaseExpiresAt() != null && j.leaseExpiresAt().isBefore(now))
                    .map(HostedJob::id).toList();
        }
        for (String id : expired) {
            try {
                finish(id, BackupOutcome.ABANDONED, "lease expired");
            } catch (HostRefusal e) {
                LOG.fine("job " + id + " ended before its lease expired");
            }
        }
    }

    /** The daemon's guest freezes: for metrics, and for the thaws at shutdown. */
    public GuestFreezer freezer() {
        return freezer;
    }

    /** Fails every running job (the daemon is stopping); their changes are merged back. */
    public void failAll(String why) {
        List<String> ids;
        synchronized (this) {
            ids = new ArrayList<>(running.keySet());
        }
        for (String id : ids) {
            try {
                finish(id, BackupOutcome.FAILURE, why);
            } catch (HostRefusal e) {
                LOG.fine("job " + id + " ended meanwhile");
            }
        }
    }

    /** The counters of all jobs since the daemon started, running and ended: what metrics counters report. */
    public synchronized FleeceStats statsOfAllJobs() {
        return endedStats.plus(statsOfRunningJobs());
    }

    /** The counters of the running jobs only: what gauges such as temp bytes report. */
    public synchronized FleeceStats statsOfRunningJobs() {
        FleeceStats sum = FleeceStats.ZERO;
        for (HostedJob job : running.values()) {
            sum = sum.plus(diskStats(job));
        }
        return sum;
    }

    /** A job's counters summed over its disks; they stay readable after the job ended. */
    private static FleeceStats diskStats(HostedJob job) {
        FleeceStats sum = FleeceStats.ZERO;
        for (HostedJob.Disk d : job.disks()) {
            sum = sum.plus(d.fleece().stats());
        }
        return sum;
    }

    /** Bytes push jobs wrote since the daemon started, by disk: what the metrics count. */
    public Map<String, Long> pushBytesWritten() {
        return pushes.bytesWritten(running());
    }

    /** Publishes a {@code job-progress} event per running push job. Called once a second. */
    public void publishProgress() {
        pushes.publishProgress(running(), clock.millis());
    }

    private static void requirePull(HostedJob job, String what) throws HostRefusal {
        if (job.push() != null) {
            throw new HostRefusal(ProblemReason.PUSH_JOB, "Job '" + job.id() + "' is a push job: it " + what + ".");
        }
    }

    public synchronized int runningCount() {
        return running.size();
    }

    private synchronized HostedJob requireRunning(String id) throws HostRefusal {
        HostedJob job = running.get(id);
        if (job == null) {
            require(id);
            throw new HostRefusal(ProblemReason.JOB_ENDED, "Job '" + id + "' has ended; start a new one.");
        }
        return job;
    }
}
