package org.fleeced.daemon.host;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * The jobs that ended, kept across restarts so that {@code GET /v1/jobs/{id}} still answers how a
 * job ended: every job that ended in the last {@link #KEEP_FOR}, or the last {@link #KEEP_COUNT}
 * ended jobs, whichever is more.
 *
 * <h2>The file</h2>
 * {@code STATE_DIR/jobs.history}, a {@link RecordLog}: a {@code start} record when a job starts
 * (with the temp images it created) and an {@code end} record when it ends, each durable before
 * the call returns. A job with a start record and no end record was running when the daemon
 * died: {@link #open} reports it as failed with reason {@code crash} and lists it in
 * {@link #crashed()} (its temp images are leftovers to delete). A clean stop writes an end record
 * (reason {@code shutdown}) for every running job first, so it never reads as a crash.
 *
 * <p>Bounded size: {@link #open} rewrites the file with only what it keeps, and so does an append
 * once the file holds twice as many records as that plus {@link #SLACK}.
 *
 * <p>Thread-safe: every call runs under the history's monitor. A failed write is logged and the
 * job's record kept in memory: losing history never fails a job.
 */
public final class JobHistory {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.jobs");
    /** Ended jobs younger than this are kept, however many. */
    static final Duration KEEP_FOR = Duration.ofHours(24);
    /** At least this many of the newest ended jobs are kept, however old. */
    static final int KEEP_COUNT = 1000;
    /** Records the file may hold beyond twice what is kept before it is compacted. */
    static final int SLACK = 256;

    /** One line of the file. */
    public record Entry(String event, JobRecord job) {
        static final String START = "start";
        static final String END = "end";
    }

    /**
     * How an entry is written as one line of text and read back: the daemon's state files are
     * JSON, written by the composition root's codec, so that the host layer stays free of a JSON
     * library.
     */
    public interface Codec {
        String write(Entry entry) throws IOException;

        Entry read(String line) throws IOException;
    }

    private final RecordLog log;
    private final Codec codec;
    private final Clock clock;
    /** Ended jobs by id, oldest end first. Guarded by this. */
    private final Map<String, JobRecord> ended = new LinkedHashMap<>();
    /** The start records of the jobs running now. Guarded by this. */
    private final Map<String, JobRecord> running = new LinkedHashMap<>();
    /** The jobs found running in the file at open: the daemon died while they ran. */
    private final List<JobRecord> crashed = new ArrayList<>();
    /** Records in the file. Guarded by this. */
    private int recordsInFile;

    private JobHistory(RecordLog log, Codec codec, Clock clock) {
        this.log = log;
        this.codec = codec;
        this.clock = clock;
    }

    /** Reads the history of the previous runs; see the class comment. */
    public static JobHistory open(Path stateDir, Codec codec, Clock clock) throws IOException {
        Files.createDirectories(stateDir);
        JobHistory history = new JobHistory(new RecordLog(stateDir.resolve("jobs.history")), codec, clock);
        history.load();
        return history;
    }

    private synchronized void load() throws IOException {
        RecordLog.Contents contents = log.read();
        if (contents.damagedLines() > 0) {
            LOG.warning("job history " + log.file() + ": skipped " + contents.damagedLines()
                    + " damaged record(s) (a write torn by a crash)");
        }
        Map<String, JobRecord> started = new LinkedHashMap<>();
        for (String line : contents.records()) {
            Entry e;
            try {
                e = codec.read(line);
            } catch (IOException ex) {
                LOG.warning("job history " + log.file() + ": skipped an unreadable record: " + ex.getMessage());
                continue;
            }
            if (Entry.START.equals(e.event())) {
                started.put(e.job().id(), e.job());
            } else if (Entry.END.equals(e.event())) {
                started.remove(e.job().id());
                ended.remove(e.job().id());
                ended.put(e.job().id(), e.job());
            }
        }
        Instant now = clock.instant();
        for (JobRecord job : started.values()) {
            JobRecord failed = job.crashed(now);
            crashed.add(failed);
            ended.put(failed.id(), failed);
        }
        pruneLocked();
        compactLocked();
    }

    /** The jobs that were running when the previous daemon died, as failed with reason crash. */
    public synchronized List<JobRecord> crashed() {
        return List.copyOf(crashed);
    }

    /** Records a job that started (durably, before the caller publishes it further). */
    public synchronized void started(JobRecord job) {
        running.put(job.id(), job);
        appendLocked(new Entry(Entry.START, job));
    }

    /** Records how a job ended; it stays readable with {@link #find}. */
    public synchronized void ended(JobRecord job) {
        running.remove(job.id());
        ended.remove(job.id());
        ended.put(job.id(), job);
        pruneLocked();
        appendLocked(new Entry(Entry.END, job));
    }

    /** An ended job, if it is still kept. */
    public synchronized Optional<JobRecord> find(String id) {
        return Optional.ofNullable(ended.get(id));
    }

    /** The ended jobs kept, oldest end first. */
    public synchronized List<JobRecord> list() {
        return new ArrayList<>(ended.values());
    }

    private void pruneLocked() {
        Instant cutoff = clock.instant().minus(KEEP_FOR);
        var it = ended.values().iterator();
        while (ended.size() > KEEP_COUNT && it.hasNext()) {
            JobRecord oldest = it.next();
            if (!oldest.endedAt().isBefore(cutoff)) {
                break;
            }
            it.remove();
        }
    }

    private void appendLocked(Entry entry) {
        try {
            if (recordsInFile >= 2 * (ended.size() + running.size()) + SLACK) {
                compactLocked();
            }
            log.append(codec.write(entry));
            recordsInFile++;
        } catch (IOException | UncheckedIOException e) {
            LOG.severe("job history " + log.file() + ": cannot record that job " + entry.job().id() + " "
                    + (Entry.START.equals(entry.event()) ? "started" : "ended") + ": " + e);
        }
    }

    /** Rewrites the file with what is kept: the ended jobs and the start records of running ones. */
    private void compactLocked() throws IOException {
        List<String> lines = new ArrayList<>();
        for (JobRecord job : ended.values()) {
            lines.add(codec.write(new Entry(Entry.END, job)));
        }
        for (JobRecord job : running.values()) {
            lines.add(codec.write(new Entry(Entry.START, job)));
        }
        log.rewrite(lines);
        recordsInFile = lines.size();
    }
}
