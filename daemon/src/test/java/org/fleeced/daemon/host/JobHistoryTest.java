package org.fleeced.daemon.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.fleeced.cbw.FleeceStats;
import org.fleeced.daemon.app.JobHistoryJson;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job history file: a crash while a job ran reads as reason crash, a torn last record is
 * ignored, and the file keeps what it must (24 hours, or the last 1,000 ended jobs) and no more.
 */
class JobHistoryTest {
    @TempDir
    Path dir;

    private final ManualClock clock = new ManualClock(Instant.parse("2026-12-02T06:00:00Z"));

    @Test
    void aJobStartedWithoutAnEndReadsAsCrashedOnceAndEndedJobsAsTheyEnded() throws Exception {
        JobHistory run1 = JobHistory.open(dir, new JobHistoryJson(), clock);
        run1.started(running("a"));
        run1.ended(ended("a", "finished", null));
        run1.started(running("b"));
        run1.started(running("c"));
        run1.ended(ended("c", "failed", "shutdown"));

        clock.advance(Duration.ofMinutes(1));
        JobHistory run2 = JobHistory.open(dir, new JobHistoryJson(), clock);
        assertEquals(List.of("b"), run2.crashed().stream().map(JobRecord::id).toList());
        JobRecord b = run2.find("b").orElseThrow();
        assertEquals("failed", b.state());
        assertEquals(JobRecord.CRASH, b.failureReason());
        assertEquals(clock.instant(), b.endedAt());
        assertEquals(List.of("/tmp/fleece-b-vm1.raw"), b.tempImages());
        assertEquals("finished", run2.find("a").orElseThrow().state());
        assertEquals("shutdown", run2.find("c").orElseThrow().failureReason());
        assertEquals(new FleeceStats(1, 2, 3, 4, 5, 6, 7, 8, 9), run2.find("a").orElseThrow().disks().getFirst().stats());

        JobHistory run3 = JobHistory.open(dir, new JobHistoryJson(), clock);
        assertEquals(List.of(), run3.crashed(), "a crash is found by the start after it, once");
        assertEquals(JobRecord.CRASH, run3.find("b").orElseThrow().failureReason());
    }

    @Test
    void aTornOrDamagedRecordIsSkippedAndTheNextAppendsAreKept() throws Exception {
        JobHistory run1 = JobHistory.open(dir, new JobHistoryJson(), clock);
        run1.started(running("a"));
        run1.ended(ended("a", "finished", null));
        Path file = dir.resolve("jobs.history");
        List<String> lines = Files.readAllLines(file);
        // a record torn by a crash: half a line, no newline
        String half = lines.getLast().substring(0, lines.getLast().length() / 2);
        Files.writeString(file, half.replace("finished", "xxxxxxxx"), StandardCharsets.UTF_8, StandardOpenOption.APPEND);

        JobHistory run2 = JobHistory.open(dir, new JobHistoryJson(), clock);
        assertEquals("finished", run2.find("a").orElseThrow().state());
        run2.started(running("b"));
        run2.ended(ended("b", "finished", null));
        JobHistory run3 = JobHistory.open(dir, new JobHistoryJson(), clock);
        assertEquals("finished", run3.find("b").orElseThrow().state(), "appends after a torn tail are readable");
        assertEquals(List.of(), run3.crashed());
    }

    @Test
    void keepsTheLastThousandOrTheLastDayWhicheverIsMoreAndTheFileStaysBounded() throws Exception {
        JobHistory history = JobHistory.open(dir, new JobHistoryJson(), clock);
        int old = JobHistory.KEEP_COUNT + 500;
        for (int i = 0; i < old; i++) {
            history.started(running("old" + i));
            history.ended(ended("old" + i, "finished", null));
        }
        assertEquals(old, history.list().size(), "all ended within 24 hours: all kept");
        clock.advance(JobHistory.KEEP_FOR.plusMinutes(1));
        for (int i = 0; i < 10; i++) {
            history.started(running("new" + i));
            history.ended(ended("new" + i, "finished", null));
        }
        List<JobRecord> kept = history.list();
        assertEquals(JobHistory.KEEP_COUNT, kept.size(), "older than a day: only the last 1,000 ended jobs");
        assertEquals("new9", kept.getLast().id());
        assertTrue(history.find("old0").isEmpty());
        assertTrue(history.find("old510").isPresent());
        long records = Files.readAllLines(dir.resolve("jobs.history")).size();
        assertTrue(records <= 2L * JobHistory.KEEP_COUNT + JobHistory.SLACK, "the file is compacted: " + records);
        assertEquals(JobHistory.KEEP_COUNT, JobHistory.open(dir, new JobHistoryJson(), clock).list().size());
    }

    private JobRecord running(String id) {
        return new JobRecord(id, "running", "c-" + id, null, clock.instant(), clock.instant().plusSeconds(7200), null,
                List.of(new JobRecord.Disk("vm1", "full", null, null, "vm1-fleece-" + id, null, FleeceStats.ZERO, null)),
                List.of("/tmp/fleece-" + id + "-vm1.raw"), "crash", 0);
    }

    private JobRecord ended(String id, String state, String reason) {
        return new JobRecord(id, state, "c-" + id, reason, clock.instant(), clock.instant().plusSeconds(7200),
                clock.instant(), List.of(new JobRecord.Disk("vm1", "full", null, null, "vm1-fleece-" + id, null,
                        new FleeceStats(1, 2, 3, 4, 5, 6, 7, 8, 9), null)), List.of("/tmp/fleece-" + id + "-vm1.raw"),
                "application", 12);
    }
}
