package org.fleeced.qcow2.bitmap;

import java.util.ArrayList;
import java.util.List;
import org.fleeced.bitmaps.BitmapView;
import org.fleeced.bitmaps.DirtyBitmap;

/**
 * The crash tests' model of a disk's checkpoints: per checkpoint, the changes it must hold at
 * least (acknowledged writes while it recorded, plus what merges and removals gave it), and
 * whether a job created it and has not finished. Transitions follow DESIGN.md section 6.
 */
final class CheckpointModel {
    /** One checkpoint of the model. */
    static final class Entry {
        final String name;
        final ClusterRuns changes;
        boolean pending;

        Entry(String name, ClusterRuns changes, boolean pending) {
            this.name = name;
            this.changes = changes;
            this.pending = pending;
        }
    }

    private final long size;
    private final long granularity;
    final List<Entry> entries = new ArrayList<>();
    /** Whether the newest records (it was not disabled). */
    boolean newestRecords = true;

    CheckpointModel(long size, long granularity) {
        this.size = size;
        this.granularity = granularity;
    }

    Entry find(String name) {
        return entries.stream().filter(e -> e.name.equals(name)).findFirst().orElse(null);
    }

    void write(long offset, long length) {
        if (!entries.isEmpty() && newestRecords) {
            entries.getLast().changes.add(offset, length);
        }
    }

    void create(String name, boolean byJob) {
        entries.add(new Entry(name, new ClusterRuns(size, granularity), byJob));
        newestRecords = true;
    }

    /** Removes a checkpoint, its changes going to its predecessor (which records when newest). */
    void remove(String name) {
        Entry gone = find(name);
        int index = entries.indexOf(gone);
        entries.remove(index);
        if (index > 0) {
            entries.get(index - 1).changes.addAll(gone.changes);
            if (index == entries.size()) {
                newestRecords = true;
            }
        }
    }

    /** What a crash now must recover: every job still running fails. */
    CheckpointModel afterCrash() {
        CheckpointModel m = new CheckpointModel(size, granularity);
        for (Entry e : entries) {
            ClusterRuns copy = new ClusterRuns(size, granularity);
            copy.addAll(e.changes);
            m.entries.add(new Entry(e.name, copy, e.pending));
        }
        for (Entry e : new ArrayList<>(m.entries)) {
            if (e.pending) {
                m.remove(e.name);
            }
        }
        return m;
    }

    List<String> names() {
        return entries.stream().map(e -> e.name).toList();
    }

    /** The granules of {@code name}'s model changes missing from {@code bitmap}. */
    List<Long> missing(String name, DirtyBitmap bitmap) {
        return find(name).changes.missingFrom(bitmap);
    }

    /**
     * The granules changed since {@code name} (its changes and every newer checkpoint's: what an
     * incremental from it must read) missing from {@code changes}.
     */
    List<Long> missingSince(String name, BitmapView changes) {
        ClusterRuns since = new ClusterRuns(size, granularity);
        for (Entry e : entries.subList(entries.indexOf(find(name)), entries.size())) {
            since.addAll(e.changes);
        }
        return since.missingFrom(changes);
    }
}
