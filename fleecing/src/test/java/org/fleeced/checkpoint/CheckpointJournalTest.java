package org.fleeced.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The journal file: appends read back, a torn or damaged tail is ignored, compaction keeps what a store missed. */
class CheckpointJournalTest {
    private static final long SIZE = 1L << 30;
    @TempDir
    Path dir;

    @Test
    void appendedEntriesReadBackInOrder() throws Exception {
        Path path = CheckpointJournal.sidecarFor(dir.resolve("disk.qcow2"));
        try (CheckpointJournal journal = CheckpointJournal.create(path, 7, SIZE, null)) {
            assertEquals(1, journal.append(JournalEntry.of(JournalEntry.Kind.BEGIN, "c1")));
            journal.append(new JournalEntry(JournalEntry.Kind.MERGE, "c1", List.of("x", "ü")));
            journal.append(JournalEntry.of(JournalEntry.Kind.COMMIT, "c1"));
        }
        JournalReader.Contents read = JournalReader.read(path, 7, SIZE);
        assertEquals(List.of(JournalEntry.of(JournalEntry.Kind.BEGIN, "c1"),
                new JournalEntry(JournalEntry.Kind.MERGE, "c1", List.of("x", "ü")),
                JournalEntry.of(JournalEntry.Kind.COMMIT, "c1")), read.entries().stream().map(JournalReader.Sequenced::entry).toList());
        assertNull(JournalReader.read(path, 8, SIZE), "another image's journal");
        assertNull(JournalReader.read(path, 7, SIZE / 2), "a journal of another size");
        assertNull(JournalReader.read(dir.resolve("missing"), 7, SIZE));
    }

    @Test
    void aTornOrDamagedTailEndsTheJournal() throws Exception {
        Path path = CheckpointJournal.sidecarFor(dir.resolve("disk.qcow2"));
        long secondAt;
        try (CheckpointJournal journal = CheckpointJournal.create(path, 7, SIZE, null)) {
            journal.append(JournalEntry.of(JournalEntry.Kind.CREATE, "a"));
            secondAt = JournalReader.read(path, 7, SIZE).end();
            journal.append(JournalEntry.of(JournalEntry.Kind.CREATE, "b"));
            journal.append(JournalEntry.of(JournalEntry.Kind.CREATE, "c"));
        }
        try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
            f.seek(secondAt + CheckpointJournal.RECORD_HEAD_BYTES + 3);
            f.write(0x5a);
        }
        JournalReader.Contents read = JournalReader.read(path, 7, SIZE);
        assertEquals(1, read.entries().size(), "b fails its checksum, so neither b nor c counts");
        assertEquals(secondAt, read.end());

        try (CheckpointJournal again = CheckpointJournal.create(path, 7, SIZE, read)) {
            again.append(JournalEntry.of(JournalEntry.Kind.CREATE, "d"));
        }
        assertEquals(List.of("a", "d"), JournalReader.read(path, 7, SIZE).entries().stream()
                .map(s -> s.entry().name()).toList(), "a rewrite drops the damaged tail, appends follow on");
    }

    @Test
    void compactionKeepsRunningJobsAndWhatTheStoreMissed() throws Exception {
        Path path = CheckpointJournal.sidecarFor(dir.resolve("disk.qcow2"));
        try (CheckpointJournal journal = CheckpointJournal.create(path, 7, SIZE, null)) {
            journal.append(JournalEntry.of(JournalEntry.Kind.BEGIN, "j1"));
            journal.append(JournalEntry.of(JournalEntry.Kind.BEGIN, "j2"));
            journal.append(JournalEntry.of(JournalEntry.Kind.COMMIT, "j1"));
            long stored = journal.lastSeq();
            journal.append(JournalEntry.of(JournalEntry.Kind.CREATE, "late"));
            journal.compactTo(stored);
            String longName = "n".repeat(JournalEntry.MAX_NAME_BYTES);
            for (int i = 0; i < 300; i++) {
                journal.append(JournalEntry.of(JournalEntry.Kind.CLEAR, longName));
            }
        }
        JournalReader.Contents read = JournalReader.read(path, 7, SIZE);
        assertEquals(List.of("j2"), read.pending(), "j2's job still runs");
        assertEquals(3, read.baseSeq());
        assertEquals("late", read.entries().getFirst().entry().name());
        assertEquals(301, read.entries().size(), "the journal grows past its first 256 KiB");
    }
}
