package org.fleeced.checkpoint;

import org.fleeced.tracking.DirtyTrackingFilter;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checkpoint rotation, refusals with their reason codes, and dirty tracking as a filter. */
class CheckpointSetTest {
    static final long G = 64 << 10;
    static final long SIZE = 32 * G;

    @Test
    void eachRefusalHasAReasonACallerCanActOn() throws Exception {
        CheckpointSet empty = CheckpointSet.inMemory(SIZE, G);
        assertEquals(BaseRefusal.NO_CHECKPOINTS,
                assertThrows(CheckpointException.class, () -> empty.begin("c1", BackupBase.incremental())).refusal());
        empty.begin("c1", BackupBase.full());
        assertEquals(BaseRefusal.BASE_UNKNOWN, assertThrows(CheckpointException.class,
                () -> empty.begin("c2", BackupBase.differentialFrom("c0"))).refusal());
        CheckpointException taken = assertThrows(CheckpointException.class, () -> empty.begin("c1", BackupBase.full()));
        assertNull(taken.refusal(), "a name in use is the caller's mistake, not a reason to fall back");

        InMemoryCheckpointStore store = new InMemoryCheckpointStore();
        store.put(new CheckpointStore.Stored("q1", new DirtyBitmap(SIZE, G), CheckpointState.INCONSISTENT));
        CheckpointSet broken = CheckpointSet.open(SIZE, G, store);
        assertEquals(BaseRefusal.BASE_INCONSISTENT,
                assertThrows(CheckpointException.class, () -> broken.begin("c2", BackupBase.incremental())).refusal());
        CheckpointStart fallback = broken.begin("c2", BackupBase.incremental().orFullWhenRefused());
        assertTrue(fallback.isFull());
        assertEquals(BaseRefusal.BASE_INCONSISTENT, fallback.fallback());
        broken.track(0, 1);
        assertTrue(broken.list().getLast().recording());
        assertEquals(G, broken.list().getLast().dirtyBytes());
    }

    @Test
    void aRecoveredCheckpointIsAValidBase() throws Exception {
        InMemoryCheckpointStore store = new InMemoryCheckpointStore();
        DirtyBitmap recovered = new DirtyBitmap(SIZE, G);
        recovered.set(5 * G, G);
        store.put(new CheckpointStore.Stored("r1", recovered, CheckpointState.RECOVERED));
        CheckpointSet set = CheckpointSet.open(SIZE, G, store);
        set.track(9 * G, 1);
        CheckpointStart start = set.begin("c2", BackupBase.incremental());
        assertEquals(2 * G, start.changes().dirtyBytes());
        assertFalse(set.list().getFirst().recording());
    }

    @Test
    void removingACheckpointKeepsItsChangesInItsPredecessor() throws Exception {
        CheckpointSet set = CheckpointSet.inMemory(SIZE, G);
        set.begin("c1", BackupBase.full());
        set.track(0, 1);
        set.begin("c2", BackupBase.incremental());
        set.track(3 * G, 1);
        set.remove("c2");
        assertTrue(set.list().getFirst().recording(), "c1 records again");
        assertEquals(2 * G, set.begin("c3", BackupBase.differentialFrom("c1")).changes().dirtyBytes());
        set.retainNewest(1);
        assertEquals("c3", set.list().getFirst().name());
    }

    @Test
    void dirtyTrackingRecordsWritesZeroesAndDiscards(@TempDir Path dir) throws Exception {
        CheckpointSet set = CheckpointSet.inMemory(SIZE, G);
        set.begin("c1", BackupBase.full());
        try (DirtyTrackingFilter disk = new DirtyTrackingFilter(RawFileNode.create(dir.resolve("d.raw"), SIZE), set::track)) {
            disk.write(G - 1, ByteBuffer.wrap(new byte[2]), WriteFlag.NONE);
            disk.writeZeroes(4 * G, 10, WriteFlag.NONE);
            disk.discard(7 * G, G);
        }
        CheckpointStart start = set.begin("c2", BackupBase.incremental());
        assertEquals(4 * G, start.changes().dirtyBytes(), "clusters 0, 1, 4, 7 and nothing else");
        assertTrue(start.changes().get(0) && start.changes().get(G) && start.changes().get(4 * G)
                && start.changes().get(7 * G));
    }
}
