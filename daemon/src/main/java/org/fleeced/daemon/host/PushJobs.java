package org.fleeced.daemon.host;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.logging.Logger;
import org.fleeced.block.BlockIOException;
import org.fleeced.checkpoint.BackupBase;
import org.fleeced.checkpoint.CheckpointStart;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.job.DiskFleece;
import org.fleeced.job.FleecingJob;
import org.fleeced.push.BackupFile;

/**
 * What {@link JobTable} does for push jobs beside what every job gets: checks the targets and
 * creates the backup files before the snapshot ({@link PushTargets}), describes the job's disks
 * (no export), keeps the backup chains ({@link BackupChains}) right when any job ends, and reports
 * progress and bytes written.
 *
 * <p>Thread-safe: the counters of ended pushes are guarded by this.
 */
final class PushJobs {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.jobs");

    private final PushTargets targets;
    private final BackupChains chains;
    private final Events events;
    /**
     * Bytes ended push jobs wrote, by disk, so the metric never goes down. By disk, not by target
     * file: every push writes a new file, so a series per file would grow with every job for as long
     * as the daemon runs. Guarded by this.
     */
    private final Map<String, Long> endedBytes = new LinkedHashMap<>();

    PushJobs(PushTargets targets, BackupChains chains, Events events) {
        this.targets = targets;
        this.chains = chains;
        this.events = events;
    }

    /** Checks the targets of a push job and creates its backup files; on failure none is left. */
    PushRun prepare(JobRequest request, List<ActiveDisk> active) throws HostRefusal, BlockIOException {
        String base = request.incrementalFrom() != null ? request.incrementalFrom() : request.differentialFrom();
        Map<String, PushTargets.Target> checked = targets.check(request.disks(), request.targets(), base);
        PushRun push = new PushRun(request.copiesInFlight(), request.keepPartial(), chains);
        try {
            for (ActiveDisk disk : active) {
                PushTargets.Target target = checked.get(disk.name());
                push.add(target, targets.create(target, disk.image().size()));
            }
        } catch (BlockIOException | HostRefusal | RuntimeException e) {
            push.abandon(e);
            throw e;
        }
        return push;
    }

    /**
     * An incremental push whose disk fell back to a full backup ({@code allowFullFallback}) would
     * write the whole disk over a backing file nothing shows through: its target file, still
     * empty, is created again without one, so the chain restarts at a full backup of its own.
     */
    void dropNeedlessBacking(PushRun push, FleecingJob job) throws BlockIOException, HostRefusal {
        for (DiskFleece fleece : job.disks()) {
            PushTargets.Target t = push.targetOf(fleece.diskName());
            if (t.backing() == null || fleece.checkpoint().kind() != BackupBase.Kind.FULL) {
                continue;
            }
            push.nodeOf(t.disk()).close();
            BackupFile.delete(t.file(), new IOException("recreated without a backing file"));
            PushTargets.Target full = new PushTargets.Target(t.disk(), t.file(), t.format(), null, null);
            push.replace(full, targets.create(full, fleece.snapshot().size()));
            LOG.info("job " + job.id() + ": disk " + t.disk() + " fell back to a full backup; " + t.file()
                    + " has no backing file");
        }
    }

    /** The disks of a push job as the API shows them: mode and base, no export. */
    static List<HostedJob.Disk> disks(FleecingJob job) {
        List<HostedJob.Disk> parts = new ArrayList<>();
        for (DiskFleece fleece : job.disks()) {
            CheckpointStart start = fleece.checkpoint();
            String fallback = start.fallback() == null ? null : HostRefusal.baseReason(start.fallback()).name();
            parts.add(new HostedJob.Disk(fleece.diskName(), start.kind().name().toLowerCase(Locale.ROOT),
                    start.baseCheckpoint(), fallback, null, null, fleece));
        }
        return parts;
    }

    /**
     * A job ended as {@code record} says. A push's bytes join the ended counters; a pull job that
     * committed its checkpoint makes any earlier push's file for a checkpoint of that name stop
     * counting as its backup (the push itself remembers its files, before it ends the job).
     */
    void ended(HostedJob job, JobRecord record) {
        if (job.push() != null) {
            synchronized (this) {
                job.push().bytesWritten().forEach((target, bytes) -> endedBytes.merge(target, bytes, Long::sum));
            }
            return;
        }
        if (!"finished".equals(record.state()) || job.checkpoint() == null) {
            return;
        }
        for (HostedJob.Disk d : job.disks()) {
            try {
                chains.forget(d.disk(), job.checkpoint());
            } catch (IOException e) {
                LOG.warning("job " + job.id() + ": cannot forget the pushed backup of checkpoint " + job.checkpoint()
                        + " on disk " + d.disk() + ": " + e);
            }
        }
    }

    /** Bytes push jobs wrote since the daemon started, by disk: what the metrics count. */
    Map<String, Long> bytesWritten(Collection<HostedJob> running) {
        Map<String, Long> all;
        synchronized (this) {
            all = new LinkedHashMap<>(endedBytes);
        }
        for (HostedJob job : running) {
            if (job.push() != null) {
                job.push().bytesWritten().forEach((target, bytes) -> all.merge(target, bytes, Long::sum));
            }
        }
        return all;
    }

    /**
     * Publishes a {@code job-progress} event per running push job whose last one is at least a
     * second old at {@code nowMillis} (the timer that calls this may fire early or catch up), with
     * {@code at} the time it stands for.
     */
    void publishProgress(Collection<HostedJob> running, long nowMillis) {
        for (HostedJob job : running) {
            if (job.push() != null && job.push().progressDue(nowMillis)) {
                Map<String, Object> data = new LinkedHashMap<>();
                data.put("job", job.id());
                data.put("at", Instant.ofEpochMilli(nowMillis).toString());
                data.putAll(progress(job.push().progress()));
                events.publish("job-progress", data);
            }
        }
    }

    /** A push's progress as events carry it; the job's end event has the last one. */
    static Map<String, Object> progress(JobRecord.Progress p) {
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("doneBytes", p.doneBytes());
        data.put("totalBytes", p.totalBytes());
        data.put("bytesPerSecond", p.bytesPerSecond());
        data.put("etaSeconds", p.etaSeconds());
        return data;
    }
}
