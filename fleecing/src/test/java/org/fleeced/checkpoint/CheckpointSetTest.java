package org.fleeced.checkpoint;

import org.fleeced.tracking.DirtyTrackingFilter;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

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

    /** The start names what the job covers by where its base sits, however the base was asked for. */
    @Test
    void theStartSaysWhetherItsBaseWasTheNewestCheckpoint() throws Exception {
        CheckpointSet set = CheckpointSet.inMemory(SIZE, G);
        CheckpointStart first = set.begin("c1", BackupBase.incremental().orFullWhenRefused());
        assertEquals(BackupBase.Kind.FULL, first.kind());
        assertNull(first.baseCheckpoint());
        assertEquals(BaseRefusal.NO_CHECKPOINTS, first.fallback());
        CheckpointStart second = set.begin("c2", BackupBase.differentialFrom("c1"));
        assertEquals(BackupBase.Kind.INCREMENTAL, second.kind(), "c1 was the newest");
        assertEquals("c1", second.baseCheckpoint());
        CheckpointStart third = set.begin("c3", BackupBase.differentialFrom("c1"));
        assertEquals(BackupBase.Kind.DIFFERENTIAL, third.kind(), "c2 came after c1");
        assertEquals("c1", third.baseCheckpoint());
        assertEquals("c3", set.begin("c4", BackupBase.incremental()).baseCheckpoint());
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

    @ParameterizedTest
    @EnumSource(value = BackupOutcome.class, names = {"FAILURE", "ABANDONED"})
    void aFailedJobNeverHappened(BackupOutcome outcome) throws Exception {
        CheckpointSet set = CheckpointSet.inMemory(SIZE, G);
        set.end(set.begin("c1", BackupBase.full()), BackupOutcome.SUCCESS);
        set.track(2 * G, 1);
        CheckpointStart failing = set.begin("c2", BackupBase.differentialFrom("c1"));
        assertEquals(G, failing.changes().dirtyBytes());
        set.track(5 * G, 1);
        set.end(failing, outcome);

        assertEquals(List.of("c1"), set.list().stream().map(CheckpointInfo::name).toList(), "c2 is gone");
        assertTrue(set.list().getFirst().recording(), "c1 records again");
        assertEquals(CheckpointState.RECORDING, set.list().getFirst().state());
        set.track(9 * G, 1);
        CheckpointStart retry = set.begin("c2", BackupBase.differentialFrom("c1"));
        assertEquals(3 * G, retry.changes().dirtyBytes(), "exactly the changes since c1: before, during and after the failed job");
        assertTrue(retry.changes().get(2 * G) && retry.changes().get(5 * G) && retry.changes().get(9 * G));
        set.end(retry, BackupOutcome.SUCCESS);
        assertEquals(List.of("c1", "c2"), set.list().stream().map(CheckpointInfo::name).toList());
    }

    @Test
    void aFailedFullJobLeavesTheDiskAsItWas() throws Exception {
        CheckpointSet set = CheckpointSet.inMemory(SIZE, G);
        set.end(set.begin("c1", BackupBase.full()), BackupOutcome.FAILURE);
        assertTrue(set.list().isEmpty());
        set.track(0, 1);
        set.end(set.begin("c1", BackupBase.full()), BackupOutcome.SUCCESS);
        assertEquals(0, set.list().getFirst().dirtyBytes(), "a write before the checkpoint is not in it");
    }

    @Test
    void aRetryLoopDoesNotGrowTheChain() throws Exception {
        CheckpointSet set = CheckpointSet.inMemory(SIZE, G);
        set.end(set.begin("c1", BackupBase.full()), BackupOutcome.SUCCESS);
        for (int i = 0; i < 50; i++) {
            set.track((long) i % 32 * G, 1);
            set.end(set.begin("c2", BackupBase.differentialFrom("c1")), BackupOutcome.FAILURE);
        }
        assertEquals(1, set.list().size());
        assertEquals(32 * G, set.list().getFirst().dirtyBytes());
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
