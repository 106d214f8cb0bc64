package org.fleeced.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.junit.jupiter.api.Test;

/**
 * Recovery replays the journal on what the image holds, and the image may already reflect some
 * of the entries: a store writes the header naming its directory before the journal is compacted
 * (for a background store, one guest flush or more before). The image records the newest entry
 * its checkpoints reflect, and replay skips the entries up to it.
 */
class JournalReplayTest {
    private static final long SIZE = 16L << 20;
    private static final long G = 64 << 10;

    /** x removed and created again, then b and c: a store after b holds [x, b]; c is only in the journal. */
    private static final List<JournalReader.Sequenced> ENTRIES = List.of(
            entry(1, JournalEntry.Kind.CREATE, "x"),
            entry(2, JournalEntry.Kind.REMOVE, "x"),
            entry(3, JournalEntry.Kind.CREATE, "x"),
            entry(4, JournalEntry.Kind.CREATE, "b"),
            entry(5, JournalEntry.Kind.CREATE, "c"));

    @Test
    void entriesTheImageReflectsAreNotReplayedAgain() throws Exception {
        assertEquals(List.of("x", "b", "c"), recoveredNames(4), "x keeps its place before b");
    }

    /** What recovery did before the image recorded its journal position (and still does when it records none). */
    @Test
    void replayedFromTheBaseANameCreatedAgainMovesToTheEnd() throws Exception {
        assertEquals(List.of("b", "x", "c"), recoveredNames(0));
    }

    @Test
    void aJobBegunBeforeTheStoredPositionAndNeverCommittedIsStillRemoved() throws Exception {
        CheckpointChain chain = imageHolding("x", "j");
        JournalReader.Contents journal = new JournalReader.Contents(0, List.of(), List.of(
                entry(1, JournalEntry.Kind.CREATE, "x"), entry(2, JournalEntry.Kind.BEGIN, "j")), 0);
        List<JournalEntry> failed = JournalReplay.recover(chain, journal, null, 2);
        assertEquals(List.of("x"), names(chain));
        assertEquals(List.of(JournalEntry.of(JournalEntry.Kind.FAIL, "j")), failed);
    }

    private static List<String> recoveredNames(long storedSeq) throws BlockIOException {
        CheckpointChain chain = imageHolding("x", "b");
        JournalReplay.recover(chain, new JournalReader.Contents(0, List.of(), ENTRIES, 0), null, storedSeq);
        return names(chain);
    }

    private static CheckpointChain imageHolding(String... names) throws BlockIOException {
        CheckpointChain chain = new CheckpointChain(SIZE, G, new InMemoryCheckpointStore());
        for (String name : names) {
            chain.addNewest(name);
        }
        return chain;
    }

    private static List<String> names(CheckpointChain chain) {
        List<String> names = new ArrayList<>();
        for (Checkpoint c : chain.list) {
            names.add(c.name);
        }
        return names;
    }

    private static JournalReader.Sequenced entry(long seq, JournalEntry.Kind kind, String name) {
        return new JournalReader.Sequenced(seq, JournalEntry.of(kind, name));
    }
}
