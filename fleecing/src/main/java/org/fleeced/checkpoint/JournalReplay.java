package org.fleeced.checkpoint;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.tracking.RecoveredIntents;

/**
 * Recovers the checkpoints of a disk after an unclean stop: what the image holds, then the
 * journal's entries after its BASE, replayed, then the intent log's marks.
 *
 * <h2>Why the result is a superset of the true changes</h2>
 * The image holds the checkpoints as of some background store at or after the journal's BASE
 * (compaction follows the store), with every write before that store in their bits. The intent
 * marks cover every write since the BASE (the intent log's epoch is retired only after the
 * journal was compacted). The image also records the newest entry its checkpoints reflect (a
 * qcow2 image in its intent log link, written with the directory): entries up to it are not
 * replayed, since the header naming a new directory is written before the journal is compacted.
 * Replay is tolerant (an entry whose checkpoint is already there, or
 * already gone, is skipped) and every entry only moves or adds bits, but for CLEAR; so replaying
 * entries the image already reflects loses no bit that was there, and adding the marks to every
 * checkpoint afterwards restores every write since the BASE, those after a CLEAR included.
 *
 * <h2>Crash during a job</h2>
 * A checkpoint a job created (BEGIN) that no COMMIT followed is removed as a failed job's is
 * (DESIGN.md section 6: the job never happened), and the FAIL entries are handed back for the
 * new journal.
 */
final class JournalReplay {
    private JournalReplay() {
    }

    /**
     * Applies {@code journal} (may be null) and {@code marks} (may be null) to {@code chain},
     * loaded from the image; every consistent checkpoint is RECOVERED afterwards when either was
     * given. Entries up to {@code storedSeq}, which the image already reflects, only tell which
     * jobs are pending: replayed, a removal and a new creation of the same name would move that
     * checkpoint to the end of the chain. Returns the FAIL entries of the jobs the crash interrupted.
     */
    static List<JournalEntry> recover(CheckpointChain chain, JournalReader.Contents journal, RecoveredIntents marks,
                                      long storedSeq) throws BlockIOException {
        Set<String> pending = new LinkedHashSet<>();
        if (journal != null) {
            pending.addAll(journal.pending());
            for (JournalReader.Sequenced s : journal.entries()) {
                if (s.seq() <= storedSeq) {
                    trackPending(s.entry(), pending);
                } else {
                    apply(chain, s.entry(), pending);
                }
            }
        }
        List<JournalEntry> failed = new ArrayList<>();
        for (String name : pending) {
            Checkpoint c = chain.find(name);
            if (c != null) {
                chain.remove(c);
                failed.add(JournalEntry.of(JournalEntry.Kind.FAIL, name));
            }
        }
        if (journal != null || marks != null) {
            for (Checkpoint c : chain.list) {
                if (c.consistent()) {
                    if (marks != null) {
                        marks.forEachRange(c.bitmap::set);
                    }
                    c.state = CheckpointState.RECOVERED;
                }
            }
        }
        return failed;
    }

    /** What an entry the image already reflects still says: which jobs are pending. */
    private static void trackPending(JournalEntry e, Set<String> pending) {
        switch (e.kind()) {
            case BEGIN -> pending.add(e.name());
            case COMMIT, FAIL, REMOVE -> pending.remove(e.name());
            default -> { }
        }
    }

    private static void apply(CheckpointChain chain, JournalEntry e, Set<String> pending) throws BlockIOException {
        Checkpoint c = chain.find(e.name());
        switch (e.kind()) {
            case BASE -> { }
            case CREATE, BEGIN -> {
                if (c == null) {
                    chain.addNewest(e.name());
                }
                if (e.kind() == JournalEntry.Kind.BEGIN) {
                    pending.add(e.name());
                }
            }
            case COMMIT -> pending.remove(e.name());
            case FAIL, REMOVE -> {
                pending.remove(e.name());
                if (c != null) {
                    chain.remove(c);
                }
            }
            case CLEAR -> {
                if (c != null && c.consistent()) {
                    c.bitmap.clear();
                }
            }
            case MERGE -> {
                for (String source : e.names()) {
                    Checkpoint from = chain.find(source);
                    if (c != null && c.consistent() && from != null && from.consistent()) {
                        c.bitmap.merge(from.bitmap);
                    }
                }
            }
            case ENABLE, DISABLE -> {
                if (c != null && c.consistent() && c == chain.list.getLast()) {
                    chain.setEnabled(c, e.kind() == JournalEntry.Kind.ENABLE);
                }
            }
        }
    }
}
