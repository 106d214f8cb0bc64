package org.fleeced.checkpoint;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link CheckpointStore} that keeps checkpoints in memory, for tests, which seed it with
 * checkpoints in any state, and for disks whose bitmaps may die with the process.
 */
public final class InMemoryCheckpointStore implements CheckpointStore {
    /** Oldest first; guarded by the calling {@link CheckpointSet}'s lock. */
    private final Map<String, Stored> checkpoints = new LinkedHashMap<>();

    @Override
    public List<Stored> loadAll() {
        return new ArrayList<>(checkpoints.values());
    }

    @Override
    public void put(Stored checkpoint) {
        checkpoints.put(checkpoint.name(), checkpoint);
    }

    @Override
    public void remove(String name) {
        checkpoints.remove(name);
    }

    @Override
    public boolean persistent() {
        return false;
    }
}
