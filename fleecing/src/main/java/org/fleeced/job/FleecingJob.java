package org.fleeced.job;

import org.fleeced.cbw.FleeceStats;
import org.fleeced.cbw.TempQuota;
import org.fleeced.cbw.CbwSettings;
import org.fleeced.cbw.CbwState;
import org.fleeced.cbw.CopyBeforeWriteFilter;
import org.fleeced.disk.ActiveDisk;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.fleeced.block.BlockIOException;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.checkpoint.CheckpointException;
import org.fleeced.checkpoint.CheckpointStart;

/**
 * A point-in-time snapshot of one or more disks, exported for a pull-mode backup reader until
 * the reader {@linkplain #finish finishes} it. The entry point the REST layer calls.
 *
 * <h2>Start</h2>
 * {@link #start} checks everything that can be checked beforehand (disks free, checkpoint names
 * and bases, temp space for the reserve), creates the temp images, quiesces the guests when the
 * spec says how ({@link SnapshotQuiescer}), then drains every disk at once
 * ({@link ActiveDisk#drain}) and, with no guest request in flight anywhere, creates the
 * checkpoint, freezes the changes since the base and inserts the copy-before-write filter on each
 * disk, before letting guest I/O resume, and the guests at once after. That is the one point in
 * time of the job, for all its disks and for the checkpoint. Nothing is flushed inside the drain.
 *
 * <h2>Finish</h2>
 * {@link #finish} removes the filters the same way, ends the readers' views, deletes the temp
 * images and settles the checkpoints: a success keeps the new checkpoint; a failure (or a
 * success claimed on a snapshot that broke) merges the changes the job covered back into it, so
 * the next backup reads them again. A success whose commit cannot be recorded in the checkpoint
 * journal of any of its disks fails the job the same way on all of them, and finish answers that
 * error.
 *
 * <p>Thread safety: start and finish serialize on the job; the getters may be called from any
 * thread at any time.
 */
public final class FleecingJob {
    private static final System.Logger LOG = System.getLogger(FleecingJob.class.getName());

    private final String id;
    private final FleecingJobSpec spec;
    private final TempQuota quota;
    /** By disk name, in the spec's order; filled during start, fixed once RUNNING. */
    private final Map<String, DiskFleece> disks = new LinkedHashMap<>();
    /** STARTING, RUNNING, then FAILED or FINISHED; RUNNING reads as FAILED once a snapshot broke. */
    private volatile JobState state = JobState.STARTING;
    /** Why the job failed, when it did at finish; a broken snapshot is reported from its cause. */
    private volatile String endFailure;

    private FleecingJob(FleecingJobSpec spec) {
        this.id = UUID.randomUUID().toString();
        this.spec = spec;
        this.quota = new TempQuota(spec.temp().quotaBytes());
    }

    /**
     * Starts a job: see the class note. On any failure nothing is left behind (no filter, no temp
     * file, no checkpoint), and the guest never noticed.
     *
     * @throws CheckpointException the checkpoint name is taken, or the base was refused (its
     *                             {@link CheckpointException#refusal()} says why; retry as full)
     * @throws BlockIOException    ENOSPC when the temp directory lacks the reserved space, EIO
     *                             when a temp image cannot be created
     * @throws DiskBusyException   a disk already has a job
     * @throws SnapshotQuiescer.QuiesceRefusedException the guests could not be quiesced, and the spec's
     *                             quiescer requires it
     */
    public static FleecingJob start(FleecingJobSpec spec) throws BlockIOException, CheckpointException,
            DiskBusyException, SnapshotQuiescer.QuiesceRefusedException {
        FleecingJob job = new FleecingJob(spec);
        List<ActiveDisk> claimed = new ArrayList<>();
        try {
            for (ActiveDisk disk : spec.disks()) {
                if (!disk.claim(job)) {
                    throw new DiskBusyException(disk.name(), "disk " + disk.name() + " already has a fleecing job");
                }
                claimed.add(disk);
                disk.checkpoints().check(spec.checkpoint(), spec.base());
                settingsFor(spec, disk).requireFits(disk.imageClusterBytes());
            }
            TempImage.admit(spec.temp());
            job.insertFilters();
            job.state = JobState.RUNNING;
            return job;
        } catch (BlockIOException | CheckpointException | DiskBusyException
                | SnapshotQuiescer.QuiesceRefusedException | RuntimeException e) {
            job.state = JobState.FAILED;
            for (ActiveDisk disk : claimed) {
                disk.release(job);
            }
            throw e;
        }
    }

    /**
     * Ends the job: see the class note. Idempotent; returns the final state, FINISHED only when
     * {@code outcome} is SUCCESS and no snapshot broke.
     */
    public JobState finish(BackupOutcome outcome) throws BlockIOException {
        return finish(outcome, "the reader reported " + outcome);
    }

    /**
     * Ends the job as {@link #finish(BackupOutcome)} does; {@code why} becomes the failure reason
     * when the outcome is not SUCCESS and nothing broke first (e.g. "shutdown", "lease expired").
     */
    public synchronized JobState finish(BackupOutcome outcome, String why) throws BlockIOException {
        if (state == JobState.FINISHED || (state == JobState.FAILED && disks.isEmpty())) {
            return state;
        }
        String broken = breakReason();
        BackupOutcome effective = broken == null ? outcome : BackupOutcome.FAILURE;
        BlockIOException firstError = null;
        for (DiskFleece fleece : disks.values()) {
            try (ActiveDisk.Drain drain = fleece.disk().drain()) {
                drain.remove();
            }
        }
        for (DiskFleece fleece : disks.values()) {
            try {
                fleece.close();
            } catch (BlockIOException e) {
                firstError = firstError == null ? e : firstError;
                effective = BackupOutcome.FAILURE;
            }
        }
        // one outcome for every disk of the job: a commit that fails on one disk takes back the
        // commits already made on the others, so no disk keeps a checkpoint the job did not get
        List<DiskFleece> committed = new ArrayList<>();
        try {
            for (DiskFleece fleece : disks.values()) {
                try {
                    fleece.disk().checkpoints().end(fleece.checkpoint(), effective);
                    if (effective == BackupOutcome.SUCCESS) {
                        committed.add(fleece);
                    }
                } catch (BlockIOException e) {
                    firstError = firstError == null ? e : firstError;
                    if (effective == BackupOutcome.SUCCESS) {
                        failCheckpoint(fleece, e);
                        for (DiskFleece done : committed) {
                            failCheckpoint(done, e);
                        }
                        committed.clear();
                    }
                    effective = BackupOutcome.FAILURE;
                }
            }
        } finally {
            for (DiskFleece fleece : disks.values()) {
                fleece.disk().release(this);
            }
        }
        disks.clear();
        if (effective == BackupOutcome.SUCCESS) {
            state = JobState.FINISHED;
        } else {
            endFailure = broken != null ? broken
                    : firstError != null ? firstError.toString() : why;
            state = JobState.FAILED;
        }
        if (firstError != null) {
            throw firstError;
        }
        return state;
    }

    /**
     * A commit that could not be recorded fails the job, so its checkpoint goes as a failed job's
     * does (merged back), on this disk and on the job's disks already committed. When that cannot
     * be recorded either, the checkpoint stays until the next start, whose recovery fails the job
     * the journal shows unfinished; a checkpoint the journal shows committed is removed then by
     * the daemon, which knows the job failed.
     */
    private static void failCheckpoint(DiskFleece fleece, BlockIOException commitError) {
        try {
            fleece.disk().checkpoints().end(fleece.checkpoint(), BackupOutcome.FAILURE);
        } catch (BlockIOException e) {
            commitError.addSuppressed(e);
        }
    }

    public String id() {
        return id;
    }

    public JobState state() {
        JobState s = state;
        return s == JobState.RUNNING && breakReason() != null ? JobState.FAILED : s;
    }

    /** Why the job failed: the root cause of a broken snapshot, or how it ended; null otherwise. */
    public String failureReason() {
        String broken = breakReason();
        return broken != null ? broken : endFailure;
    }

    /** The disks of a running job, in the order given at start (empty once it has ended). */
    public synchronized List<DiskFleece> disks() {
        return List.copyOf(disks.values());
    }

    /** One disk of a running job. */
    public synchronized DiskFleece disk(String name) {
        DiskFleece fleece = disks.get(name);
        if (fleece == null) {
            throw new IllegalArgumentException("job " + id + " has no running disk " + name);
        }
        return fleece;
    }

    /** The counters of all disks together. */
    public synchronized FleeceStats stats() {
        FleeceStats sum = FleeceStats.ZERO;
        for (DiskFleece fleece : disks.values()) {
            sum = sum.plus(fleece.stats());
        }
        return sum;
    }

    public FleecingJobSpec spec() {
        return spec;
    }

    private String breakReason() {
        for (DiskFleece fleece : disksSnapshot()) {
            BlockIOException cause = fleece.breakCause();
            if (cause != null) {
                return "disk " + fleece.diskName() + ": " + cause;
            }
        }
        return null;
    }

    private synchronized List<DiskFleece> disksSnapshot() {
        return List.copyOf(disks.values());
    }

    /**
     * Creates the temp images, then, with the guests quiesced and every disk drained, the
     * checkpoints and the filters.
     */
    private synchronized void insertFilters() throws BlockIOException, CheckpointException,
            SnapshotQuiescer.QuiesceRefusedException {
        Map<ActiveDisk, TempImage> temps = new LinkedHashMap<>();
        List<ActiveDisk.Drain> drains = new ArrayList<>();
        List<CheckpointStart> begun = new ArrayList<>();
        SnapshotQuiescer.Quiesced quiesced = null;
        boolean inserted = false;
        try {
            for (ActiveDisk disk : spec.disks()) {
                temps.put(disk, TempImage.create(spec.temp(), "fleece-" + id + "-" + disk.name(),
                        disk.image().size(), settingsFor(spec, disk).clusterBytes()));
            }
            // everything slow is done: from here to the resume below is the snapshot point only
            quiesced = spec.quiescer().quiesce(id);
            for (ActiveDisk disk : spec.disks()) {
                // guests wait while drained: the checkpoints are journaled here, never stored
                drains.add(disk.drain());
            }
            for (int i = 0; i < spec.disks().size(); i++) {
                ActiveDisk disk = spec.disks().get(i);
                CheckpointStart start = disk.checkpoints().begin(spec.checkpoint(), spec.base());
                begun.add(start);
                CbwState cbw = new CbwState(disk.image(), temps.get(disk).node(), settingsFor(spec, disk).clusterBytes(),
                        quota, start.changes(), spec.keepWholeSnapshot());
                CopyBeforeWriteFilter filter = new CopyBeforeWriteFilter(cbw, settingsFor(spec, disk));
                disks.put(disk.name(), new DiskFleece(disk, temps.get(disk), cbw, filter, start, spec.allowDiscard()));
            }
            for (int i = 0; i < spec.disks().size(); i++) {
                DiskFleece fleece = disks.get(spec.disks().get(i).name());
                drains.get(i).insert(fleece.filter());
            }
            inserted = true;
        } finally {
            drains.forEach(ActiveDisk.Drain::close);
            if (quiesced != null) {
                quiesced.resume();
            }
            if (!inserted) {
                undoStart(temps, begun);
            }
        }
    }

    private void undoStart(Map<ActiveDisk, TempImage> temps, List<CheckpointStart> begun) {
        disks.clear();
        for (int i = 0; i < begun.size(); i++) {
            ActiveDisk disk = spec.disks().get(i);
            try {
                if (begun.get(i).created() != null) {
                    disk.checkpoints().remove(begun.get(i).created());
                }
            } catch (BlockIOException | CheckpointException e) {
                LOG.log(System.Logger.Level.WARNING, "disk {0}: cannot undo checkpoint {1} of a failed start: {2}",
                        disk.name(), begun.get(i).created(), e.toString());
            }
        }
        for (TempImage temp : temps.values()) {
            try {
                temp.close();
            } catch (BlockIOException e) {
                LOG.log(System.Logger.Level.WARNING, "cannot delete temp image {0} of a failed start: {1}",
                        temp.path(), e.toString());
            }
        }
    }

    private static CbwSettings settingsFor(FleecingJobSpec spec, ActiveDisk disk) {
        long cluster = spec.clusterBytes() != 0 ? spec.clusterBytes()
                : CbwSettings.defaultClusterBytes(disk.imageClusterBytes());
        return CbwSettings.of(cluster, spec.onCbwError(), spec.cbwTimeout());
    }

    @Override
    public String toString() {
        return "FleecingJob[" + id + ", " + state() + "]";
    }
}
