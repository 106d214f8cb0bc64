package org.fleeced.daemon.host;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.logging.Logger;
import org.fleeced.block.BlockIOException;
import org.fleeced.checkpoint.CheckpointException;
import org.fleeced.checkpoint.CheckpointInfo;
import org.fleeced.checkpoint.CheckpointState;

/**
 * What the daemon does between listening and being ready: it cleans up what the previous run
 * left, and says so. REST and NBD listen before this starts; until it is done, {@code /health}
 * answers 503 {@code starting} and every other operation 503 {@code STARTING}, so no job can
 * start on a half-attached host.
 *
 * <ol>
 *   <li>Jobs the history found running (the daemon died under them) are failed with reason
 *       {@code crash} ({@link JobHistory#open} did that); their temp images, and any other file
 *       in a temp root named like a job's temp image, are deleted, one log line each; so are the
 *       backup files crashed push jobs were writing (unless they asked to keep partial ones),
 *       which would otherwise look like backups.</li>
 *   <li>The remembered disks are attached again, in parallel; opening a qcow2 image that was not
 *       closed cleanly recovers its bitmaps from the intent log.</li>
 *   <li>A crashed job never happened, on every disk: its checkpoint is gone where the journal's
 *       replay left it uncommitted, and where the crash came after its commit on that disk (the
 *       job had not ended: its other disks, or its end record, were not done), it is removed here,
 *       its changes merged into the checkpoint before, as a failed job's; one log line each. A
 *       retry with the same name then works on every disk.</li>
 * </ol>
 * Nothing a crash left is dropped silently: the {@link Report} (in {@code /health}) lists the
 * crashed jobs, the deleted temp images, the disks that could not be attached again, the
 * checkpoints of crashed jobs removed, and the bitmaps that were recovered or found inconsistent.
 */
public final class StartupRecovery {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon");

    /** A bitmap that was not closed cleanly, as its disk's attach found it. */
    public record RecoveredBitmap(String disk, String bitmap, String state) {
    }

    /** A checkpoint a crashed job had committed on a disk, removed at start. */
    public record RemovedCheckpoint(String disk, String checkpoint, String job) {
    }

    /** What the start found and did. */
    public record Report(List<String> crashedJobs, List<String> deletedTempImages,
            List<String> deletedPartialBackups, List<DiskTable.NotAttached> disksNotAttached,
            List<RemovedCheckpoint> removedCheckpoints, List<RecoveredBitmap> bitmaps) {
    }

    private final JobHistory history;
    private final AllowedPaths tempDirs;
    private final AllowedPaths backupDirs;
    private final DiskTable disks;
    private final List<RememberedDisks.Entry> remembered;
    private final CompletableFuture<Report> done = new CompletableFuture<>();

    public StartupRecovery(JobHistory history, AllowedPaths tempDirs, AllowedPaths backupDirs, DiskTable disks,
            List<RememberedDisks.Entry> remembered) {
        this.history = history;
        this.tempDirs = tempDirs;
        this.backupDirs = backupDirs;
        this.disks = disks;
        this.remembered = List.copyOf(remembered);
    }

    /** Runs the recovery on a virtual thread of its own. */
    public void start() {
        Thread.ofVirtual().name("startup-recovery").start(() -> {
            try {
                done.complete(run());
            } catch (RuntimeException | Error e) {
                done.completeExceptionally(e);
                throw e;
            }
        });
    }

    /** The report once the recovery is done; empty while it runs. */
    public Optional<Report> report() {
        return done.isDone() && !done.isCompletedExceptionally() ? Optional.of(done.join()) : Optional.empty();
    }

    /** Whether the daemon is ready: the recovery is done (a failure in it is logged, never hidden as ready). */
    public boolean ready() {
        return report().isPresent();
    }

    /** Waits until the recovery has ended (the daemon is stopping and must not close disks being attached). */
    public void awaitEnd() {
        try {
            done.join();
        } catch (RuntimeException e) {
            LOG.severe("the start did not complete: " + e);
        }
    }

    private Report run() {
        Map<Path, String> recorded = new LinkedHashMap<>();
        List<String> crashedJobs = new ArrayList<>();
        List<String> partialBackups = new ArrayList<>();
        for (JobRecord job : history.crashed()) {
            LOG.warning("job " + job.id() + " was running when the daemon stopped without a clean stop: failed ("
                    + JobRecord.CRASH + ")");
            crashedJobs.add(job.id());
            for (String temp : job.tempImages()) {
                try {
                    // only what lies in a temp directory: the history names files, it never widens what may be deleted
                    recorded.put(tempDirs.check(temp), job.id());
                } catch (AllowedPaths.PathRefused e) {
                    LOG.warning("job " + job.id() + ": its temp image is not deleted: " + e.getMessage());
                }
            }
            deletePartialBackups(job, partialBackups);
        }
        List<String> deleted = LeftoverTempImages.delete(recorded, tempDirs.roots()).stream().map(Path::toString).toList();
        List<DiskTable.NotAttached> notAttached = disks.restore(remembered);
        List<RemovedCheckpoint> removed = removeCrashedCheckpoints();
        List<RecoveredBitmap> bitmaps = new ArrayList<>();
        for (AttachedDisk disk : disks.list()) {
            for (CheckpointInfo c : disk.active().checkpoints().list()) {
                if (c.state() == CheckpointState.RECOVERED || c.state() == CheckpointState.INCONSISTENT) {
                    bitmaps.add(new RecoveredBitmap(disk.name(), c.name(),
                            c.state().name().toLowerCase(java.util.Locale.ROOT)));
                }
            }
        }
        LOG.info("ready: " + disks.list().size() + " disk(s) attached" + (crashedJobs.isEmpty() ? ""
                : ", " + crashedJobs.size() + " job(s) failed by a crash") + (deleted.isEmpty() ? ""
                : ", " + deleted.size() + " leftover temp image(s) deleted") + (notAttached.isEmpty() ? ""
                : ", " + notAttached.size() + " disk(s) not attached again") + (removed.isEmpty() ? ""
                : ", " + removed.size() + " checkpoint(s) of crashed jobs removed") + (bitmaps.isEmpty() ? ""
                : ", " + bitmaps.size() + " bitmap(s) recovered or inconsistent"));
        return new Report(crashedJobs, deleted, partialBackups, notAttached, removed, bitmaps);
    }

    /** Point 3 of the class note: the checkpoints crashed jobs committed on some disks go. */
    private List<RemovedCheckpoint> removeCrashedCheckpoints() {
        List<RemovedCheckpoint> removed = new ArrayList<>();
        for (JobRecord job : history.crashed()) {
            if (job.checkpoint() == null) {
                continue;
            }
            for (JobRecord.Disk d : job.disks()) {
                Optional<AttachedDisk> disk = disks.find(d.disk());
                if (disk.isEmpty() || disk.get().active().checkpoints().list().stream()
                        .noneMatch(c -> c.name().equals(job.checkpoint()))) {
                    continue;
                }
                try {
                    disk.get().active().checkpoints().remove(job.checkpoint());
                    LOG.warning("disk " + d.disk() + ": removed checkpoint " + job.checkpoint() + ", committed by job "
                            + job.id() + " before the crash ended it; its changes went back into the checkpoint before");
                    removed.add(new RemovedCheckpoint(d.disk(), job.checkpoint(), job.id()));
                } catch (CheckpointException | BlockIOException e) {
                    LOG.severe("disk " + d.disk() + ": checkpoint " + job.checkpoint() + " of crashed job " + job.id()
                            + " could not be removed: " + e.getMessage() + "; delete it through the API");
                }
            }
        }
        return removed;
    }

    /**
     * The files a crashed push job was writing are not backups: deleted, or renamed to
     * {@code NAME.partial} when the job asked to keep partial ones ({@link PushRun#discardPartial}).
     */
    private void deletePartialBackups(JobRecord job, List<String> deleted) {
        for (JobRecord.Disk d : job.disks()) {
            JobRecord.Target t = d.target();
            if (t == null || t.path() == null) {
                continue;
            }
            Path file;
            try {
                // only what lies in a backup directory: the history never widens what may be touched
                file = backupDirs.check(t.path());
            } catch (AllowedPaths.PathRefused e) {
                LOG.warning("job " + job.id() + ": its partial backup " + t.path() + " is left as it is: " + e.getMessage());
                continue;
            }
            boolean existed = Files.exists(file, LinkOption.NOFOLLOW_LINKS);
            PushRun.discardPartial(job.id(), file, t.keepPartial());
            if (existed && !t.keepPartial() && !Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                deleted.add(file.toString());
            }
        }
    }
}
