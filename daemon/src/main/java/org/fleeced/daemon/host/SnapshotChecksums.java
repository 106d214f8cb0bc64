package org.fleeced.daemon.host;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.logging.Logger;

import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.checksum.BlockChecksum;
import org.fleeced.checksum.ChecksumRun;
import org.fleeced.throttle.ThrottleFilter;

/**
 * The block checksums the daemon computes for its callers (issue 15): of a job's snapshot of a
 * disk, or of an attached disk as it is. A request's thread waits for the run (which computes on
 * its own worker threads), publishing a {@code checksum-progress} event about once a second and
 * a {@code checksum-finished} event at the end; the running checksums of jobs are kept here so
 * that a job's stats can show their progress. A caller that goes away cancels its run.
 */
public final class SnapshotChecksums {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.checksum");
    private static final long PROGRESS_EVERY_MILLIS = 1000;

    /** Progress of a running checksum of a job's disk. */
    public record Progress(long doneBytes, long sizeBytes) {
    }

    private record Key(String job, String disk) {
    }

    private final Events events;
    private final int threads;
    /** Running checksums of job disks. */
    private final Map<Key, ChecksumRun> running = new ConcurrentHashMap<>();

    public SnapshotChecksums(Events events, int threads) {
        this.events = events;
        this.threads = threads;
    }

    /**
     * The checksum of the whole snapshot of {@code disk} in running job {@code jobId}.
     *
     * @param onCallerGone registers what to do when the caller goes away (cancel the run)
     * @throws CancellationException the caller went away
     */
    public ChecksumRun.Result ofJobDisk(JobTable jobs, String jobId, String disk, int blockSize,
            Consumer<Runnable> onCallerGone) throws HostRefusal, BlockIOException, InterruptedException {
        HostedJob.Disk d = jobs.requireRunningDisk(jobId, disk);
        long unkept = d.fleece().firstUnkeptByte();
        if (unkept >= 0) {
            throw incomplete(jobId, disk, "from byte " + unkept);
        }
        JobThrottle throttle = jobs.throttle(jobId);
        BlockNode whole = d.fleece().wholeSnapshotNode();
        // the checksum reads the disk as the job's reader does: the job's readLimits hold it back too
        ChecksumRun run = new ChecksumRun(throttle == null ? whole : new ThrottleFilter(whole, throttle.throttle()),
                new BlockChecksum(blockSize), threads);
        Key key = new Key(jobId, disk);
        if (running.putIfAbsent(key, run) != null) {
            throw new HostRefusal(ProblemReason.JOB_RUNNING, "A checksum of disk '" + disk + "' in job '" + jobId
                    + "' is running; wait for its answer.");
        }
        try {
            return compute(run, onCallerGone, Map.of("job", jobId, "disk", disk));
        } catch (BlockIOException e) {
            if (e.errno() == Errno.EACCES) {
                throw incomplete(jobId, disk, e.getMessage());
            }
            if (e.errno() == Errno.ESHUTDOWN) {
                throw new HostRefusal(ProblemReason.JOB_ENDED, "Job '" + jobId + "' ended during the checksum.");
            }
            throw e;
        } finally {
            running.remove(key);
        }
    }

    /**
     * The refusal of a checksum of a snapshot the job does not keep whole: an incremental job keeps
     * only its changes unless started with keepWholeSnapshot, and a discarded range is gone.
     */
    private static HostRefusal incomplete(String jobId, String disk, String where) {
        return new HostRefusal(ProblemReason.SNAPSHOT_INCOMPLETE, "Job '" + jobId + "' does not keep all of the "
                + "snapshot of disk '" + disk + "' (" + where + "): an incremental job keeps only its changes unless"
                + " it is started with keepWholeSnapshot: true, and a range its reader discarded is gone. To verify"
                + " an incremental backup, start the job with keepWholeSnapshot: true and checksum before discarding.");
    }

    /** The checksum of an attached disk as its writable export reads now. */
    public ChecksumRun.Result ofDisk(AttachedDisk disk, int blockSize, Consumer<Runnable> onCallerGone)
            throws BlockIOException, InterruptedException {
        ChecksumRun run = new ChecksumRun(disk.active().exportNode(), new BlockChecksum(blockSize), threads);
        return compute(run, onCallerGone, Map.of("disk", disk.name()));
    }

    /** The progress of a running checksum of a job's disk, or null. */
    public Progress progress(String jobId, String disk) {
        ChecksumRun run = running.get(new Key(jobId, disk));
        return run == null ? null : new Progress(run.doneBytes(), run.sizeBytes());
    }

    private ChecksumRun.Result compute(ChecksumRun run, Consumer<Runnable> onCallerGone, Map<String, String> what)
            throws BlockIOException, InterruptedException {
        long started = System.nanoTime();
        CompletableFuture<ChecksumRun.Result> result = new CompletableFuture<>();
        Thread.ofVirtual().name("checksum-" + what.values()).start(() -> {
            try {
                result.complete(run.run());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        onCallerGone.accept(run::cancel);
        try {
            while (true) {
                try {
                    ChecksumRun.Result r = result.get(PROGRESS_EVERY_MILLIS, TimeUnit.MILLISECONDS);
                    Map<String, Object> data = new LinkedHashMap<>(what);
                    data.put("algorithm", r.algorithm());
                    data.put("blockSize", r.blockSize());
                    data.put("checksum", r.checksum());
                    data.put("sizeBytes", r.sizeBytes());
                    data.put("elapsedMillis", (System.nanoTime() - started) / 1_000_000);
                    events.publish("checksum-finished", data);
                    LOG.info("checksum of " + what + ": " + r.checksum() + " (" + r.sizeBytes() + " bytes in "
                            + (System.nanoTime() - started) / 1_000_000 + " ms)");
                    return r;
                } catch (TimeoutException e) {
                    Map<String, Object> data = new LinkedHashMap<>(what);
                    data.put("doneBytes", run.doneBytes());
                    data.put("sizeBytes", run.sizeBytes());
                    events.publish("checksum-progress", data);
                }
            }
        } catch (CancellationException c) {
            // a run that ended cancelled is reported by get() as itself, not wrapped
            LOG.info("checksum of " + what + " cancelled after " + run.doneBytes() + " of " + run.sizeBytes()
                    + " bytes: the caller went away");
            throw c;
        } catch (ExecutionException e) {
            switch (e.getCause()) {
                case BlockIOException b -> throw b;
                case InterruptedException i -> throw i;
                case RuntimeException r -> throw r;
                case Error err -> throw err;
                default -> throw new IllegalStateException(e.getCause());
            }
        } catch (InterruptedException e) {
            run.cancel();
            throw e;
        }
    }
}
