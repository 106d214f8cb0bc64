package org.fleeced.daemon.host;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.fleeced.restore.RestoreProgress;

/**
 * The events of the disks' instant restores: {@code restore-progress} for every disk whose restore
 * runs, each time {@link #publish} is called (on a timer), and once {@code restore-complete} or
 * {@code restore-failed} when it ends. A stream run again after it failed (a PATCH of its limits)
 * may fail again, and that is published again.
 */
final class RestoreEvents {
    private final Events events;
    /** "DISK TYPE" of the restore ends already published, so each is published once. */
    private final Set<String> endsReported = ConcurrentHashMap.newKeySet();

    RestoreEvents(Events events) {
        this.events = events;
    }

    void publish(List<AttachedDisk> disks) {
        for (AttachedDisk disk : disks) {
            disk.active().restoreProgress().ifPresent(p -> {
                String type = switch (p.state()) {
                    case RUNNING -> "restore-progress";
                    case COMPLETE -> "restore-complete";
                    case FAILED -> "restore-failed";
                };
                if (p.state() == RestoreProgress.State.RUNNING) {
                    endsReported.remove(disk.name() + " restore-failed");
                } else if (!endsReported.add(disk.name() + " " + type)) {
                    return;
                }
                Map<String, Object> data = new LinkedHashMap<>();
                data.put("disk", disk.name());
                data.put("doneBytes", p.doneBytes());
                data.put("totalBytes", p.totalBytes());
                data.put("bytesPerSecond", p.bytesPerSecond());
                data.put("etaSeconds", p.etaSeconds());
                if (p.lastError() != null) {
                    data.put("lastError", p.lastError());
                }
                events.publish(type, data);
            });
        }
    }
}
