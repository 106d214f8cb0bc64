package org.fleeced.daemon.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Errno;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.job.DiskFleece;
import org.fleeced.push.BackupFile;
import org.fleeced.push.CopyPlan;
import org.fleeced.push.PushCopy;

/**
 * The copying side of one push job: after the job's snapshot is taken, copies every disk's
 * snapshot into its target (the disks in parallel, each with its own {@link PushCopy}), then ends
 * the job by itself.
 *
 * <h2>End</h2>
 * When every copy is done, each target is flushed and closed, and only then is the job finished
 * with success (its checkpoint committed) and each target file remembered for its checkpoint
 * ({@link BackupChains}): a checkpoint is never committed ahead of the backup that holds it. On
 * the first failure (a read of the snapshot, a write or flush of a target, {@link #cancel}), every
 * copy stops, the job is finished as a failure naming the cause (its checkpoint as if the job
 * never ran), and the target files are deleted unless the caller asked to keep partial ones (an
 * NBD target is left as it is: the daemon did not create it, so it does not delete it).
 *
 * <p>Thread safety: {@link #start} once; the rest from any thread.
 */
final class PushRun {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.jobs");
    /** The largest request a push sends: large, and a multiple of every CBW cluster (at most 4 MiB). */
    static final long CHUNK_BYTES = 8 << 20;

    /** One disk's part: its target and, once planned, its copy. */
    private static final class Part {
        /** Replaced once at most, before the copy starts ({@link #replace}). */
        volatile PushTargets.Target target;
        volatile BlockNode node;
        volatile PushCopy copy;

        Part(PushTargets.Target target, BlockNode node) {
            this.target = target;
            this.node = node;
        }
    }

    /** How the job ends: a callback into the job table, which answers the record as it ended. */
    @FunctionalInterface
    interface Ending {
        JobRecord finish(BackupOutcome outcome, String why) throws HostRefusal;
    }

    private final Map<String, Part> parts = new LinkedHashMap<>();
    private final int copiesInFlight;
    private final boolean keepPartial;
    private final BackupChains chains;
    private final CountDownLatch ended = new CountDownLatch(1);
    private volatile long startNanos;
    /** Why the push was cancelled, if it was; the copies stop with it. */
    private volatile BlockIOException cancelled;
    /** When the last job-progress event was published (epoch millis); none yet: far in the past. */
    private final AtomicLong lastProgressMillis = new AtomicLong(Long.MIN_VALUE / 2);

    PushRun(int copiesInFlight, boolean keepPartial, BackupChains chains) {
        this.copiesInFlight = copiesInFlight;
        this.keepPartial = keepPartial;
        this.chains = chains;
    }

    /** Adds a disk whose target file is created and open. */
    void add(PushTargets.Target target, BlockNode node) {
        parts.put(target.disk(), new Part(target, node));
    }

    /**
     * Swaps one disk's target, before the copy starts, for {@code created} (a file made again
     * without its backing file: see {@link PushJobs#dropNeedlessBacking}).
     */
    void replace(PushTargets.Target target, BlockNode created) {
        Part p = parts.get(target.disk());
        p.target = target;
        p.node = created;
    }

    /** The target of a disk, as checked, and its open node. */
    PushTargets.Target targetOf(String disk) {
        return parts.get(disk).target;
    }

    BlockNode nodeOf(String disk) {
        return parts.get(disk).node;
    }

    /** The target of one disk, as the API shows it. */
    JobRecord.Target target(String disk) {
        Part p = parts.get(disk);
        PushCopy copy = p.copy;
        if (p.target.file() == null) {
            return new JobRecord.Target(null, null, null, keepPartial, copy == null ? 0 : copy.bytesWritten(),
                    p.target.name());
        }
        return new JobRecord.Target(p.target.file().toString(), p.target.format().name().toLowerCase(java.util.Locale.ROOT),
                p.target.backing() == null ? null : p.target.backing().file().toString(), keepPartial,
                copy == null ? 0 : copy.bytesWritten(), null);
    }

    /** Progress over every disk, now. */
    JobRecord.Progress progress() {
        long done = 0;
        long total = 0;
        for (Part p : parts.values()) {
            PushCopy copy = p.copy;
            if (copy != null) {
                done += copy.doneBytes();
                total += copy.totalBytes();
            }
        }
        long start = startNanos;
        double seconds = start == 0 ? 0 : (System.nanoTime() - start) / 1e9;
        long rate = seconds > 0 ? (long) (done / seconds) : 0;
        Long eta = null;
        if (rate > 0) {
            eta = (total - done + rate - 1) / rate;
        } else if (start != 0 && done == total) {
            eta = 0L;
        }
        return new JobRecord.Progress(done, total, rate, eta);
    }

    /** Whether a job-progress event is due at {@code nowMillis} (a second after the last); if so, it is now the last. */
    boolean progressDue(long nowMillis) {
        long last = lastProgressMillis.get();
        return nowMillis - last >= 1000 && lastProgressMillis.compareAndSet(last, nowMillis);
    }

    /** Bytes written to each disk's target so far, by disk. */
    Map<String, Long> bytesWritten() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (Part p : parts.values()) {
            PushCopy copy = p.copy;
            out.put(p.target.disk(), copy == null ? 0 : copy.bytesWritten());
        }
        return out;
    }

    /** Starts copying the job's disks on a virtual thread; {@code ending} ends the job. */
    void start(List<DiskFleece> fleeces, String jobId, String checkpoint, Ending ending) {
        startNanos = System.nanoTime();
        Thread.ofVirtual().name("push-" + jobId).start(() -> {
            try {
                run(fleeces, jobId, checkpoint, ending);
            } finally {
                ended.countDown();
            }
        });
    }

    /**
     * The job did not start: closes and deletes every target file created so far; failures to do
     * so are added to {@code cause}.
     */
    void abandon(Exception cause) {
        ended.countDown();
        for (Part p : parts.values()) {
            try {
                p.node.close();
            } catch (BlockIOException e) {
                cause.addSuppressed(e);
            }
            if (p.target.file() != null) {
                BackupFile.delete(p.target.file(), cause);
            }
        }
    }

    /** Stops the copies; the job then ends as a failure with {@code why}. */
    void cancel(String why) {
        BlockIOException cause = new BlockIOException(Errno.ESHUTDOWN, why);
        cancelled = cause;
        for (Part p : parts.values()) {
            PushCopy copy = p.copy;
            if (copy != null) {
                copy.cancel(cause);
            }
        }
    }

    /** Waits until the push has ended the job and cleaned up its targets. */
    void awaitEnd() throws InterruptedException {
        ended.await();
    }

    private void run(List<DiskFleece> fleeces, String jobId, String checkpoint, Ending ending) {
        BlockIOException failure = copyAll(fleeces);
        for (Part p : parts.values()) {
            try {
                if (failure == null) {
                    p.node.flush();
                }
            } catch (BlockIOException e) {
                failure = prefixed(p, e);
            } finally {
                try {
                    p.node.close();
                } catch (BlockIOException e) {
                    failure = failure != null ? failure : prefixed(p, e);
                }
            }
        }
        String why = failure == null ? "every disk was pushed"
                : failure == cancelled ? failure.getMessage() : failure.toString();
        JobRecord record;
        try {
            record = ending.finish(failure == null ? BackupOutcome.SUCCESS : BackupOutcome.FAILURE, why);
        } catch (HostRefusal | RuntimeException e) {
            LOG.severe("job " + jobId + ": cannot end the push: " + e);
            record = null;
        }
        if (record != null && "finished".equals(record.state())) {
            remember(jobId, checkpoint);
        } else {
            for (Part p : parts.values()) {
                if (p.target.file() != null) {
                    discardPartial(jobId, p.target.file(), keepPartial);
                }
            }
        }
    }

    /**
     * What a failed push does with a file it was writing, one log line each: deletes it, or, when
     * the job asked to keep partial backups, renames it to {@code NAME.partial} so that it no
     * longer claims to be a backup. The start after a crash does the same.
     */
    static void discardPartial(String jobId, Path file, boolean keepPartial) {
        if (!keepPartial) {
            IOException cause = new IOException("push failed");
            BackupFile.delete(file, cause);
            if (cause.getSuppressed().length > 0) {
                LOG.warning("job " + jobId + ": " + cause.getSuppressed()[0].getMessage());
            } else {
                LOG.info("job " + jobId + ": deleted the partial backup " + file);
            }
            return;
        }
        try {
            if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                LOG.info("job " + jobId + ": kept the partial backup " + file + " as " + BackupFile.markPartial(file)
                        + " (keepPartial): it is not a backup");
            }
        } catch (IOException e) {
            LOG.warning("job " + jobId + ": the partial backup " + file + " cannot be renamed to " + file
                    + BackupFile.PARTIAL_SUFFIX + ": " + e);
        }
    }

    /** Copies every disk, in parallel; the first failure, or null. */
    private BlockIOException copyAll(List<DiskFleece> fleeces) {
        List<Thread> threads = new ArrayList<>();
        List<BlockIOException> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        for (DiskFleece fleece : fleeces) {
            Part p = parts.get(fleece.diskName());
            threads.add(Thread.ofVirtual().name("push-" + fleece.diskName()).start(() -> {
                try {
                    long chunk = Math.max(CHUNK_BYTES, fleece.snapshot().clusterSize());
                    PushCopy copy = new PushCopy(fleece.snapshot(), p.node,
                            CopyPlan.of(fleece.snapshot(), fleece.changes(), chunk), copiesInFlight);
                    p.copy = copy;
                    if (cancelled != null) {
                        copy.cancel(cancelled);
                    }
                    copy.run();
                } catch (BlockIOException e) {
                    failures.add(prefixed(p, e));
                    parts.values().forEach(o -> {
                        if (o.copy != null) {
                            o.copy.cancel(e);
                        }
                    });
                } catch (RuntimeException e) {
                    failures.add(prefixed(p, new BlockIOException(Errno.EIO, e.toString(), e)));
                }
            }));
        }
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new BlockIOException(Errno.EIO, "the push was interrupted", e);
            }
        }
        BlockIOException c = cancelled;
        return c != null ? c : failures.isEmpty() ? null : failures.getFirst();
    }

    private void remember(String jobId, String checkpoint) {
        if (checkpoint == null) {
            return;
        }
        for (Part p : parts.values()) {
            if (p.target.file() == null) {
                continue;
            }
            try {
                chains.remember(p.target.disk(), checkpoint, new BackupFile.Backing(p.target.file(), p.target.format()));
            } catch (IOException e) {
                LOG.warning("job " + jobId + ": cannot remember " + p.target.file() + " as the backup of checkpoint "
                        + checkpoint + " (an incremental push from it must name it as backingFile): " + e);
            }
        }
    }

    private static BlockIOException prefixed(Part p, BlockIOException e) {
        return new BlockIOException(e.errno(), "disk " + p.target.disk() + " to " + p.target.name() + ": "
                + e.getMessage(), e);
    }
}
