package org.fleeced.job;

import org.fleeced.cbw.OnCbwError;
import org.fleeced.disk.ActiveDisk;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.fleeced.checkpoint.BackupBase;

/**
 * What a fleecing job should do; built with {@link #builder}. Defaults: a full backup, no new
 * checkpoint, BREAK_SNAPSHOT with a 45 s cbw-timeout (PVE's choice: below the 60 s after which
 * virtio-win guests give up on a request), the default CBW cluster (max(64 KiB, the image's)),
 * reader discard allowed.
 *
 * @param disks         one or more disks, snapshotted at one point in time
 * @param checkpoint    the checkpoint to create at the snapshot point on every disk, or null
 * @param base          full, incremental (from the newest checkpoint) or differential (from a named one)
 * @param temp          where and how temp data is kept
 * @param onCbwError    what a failed copy breaks
 * @param cbwTimeout    how long a guest write waits for copies; {@link Duration#ZERO} for no limit
 * @param clusterBytes  the CBW cluster, or 0 for each disk's default
 * @param allowDiscard  whether the reader may discard (the export then accepts NBD TRIM)
 * @param quiescer      what quiesces the guests around the snapshot point ({@link SnapshotQuiescer#NONE} by default)
 * @param keepWholeSnapshot an incremental job keeps (copies before write) the whole snapshot, not
 *                      only the changes its reader reads, so that the daemon can checksum all of it
 */
public record FleecingJobSpec(List<ActiveDisk> disks, String checkpoint, BackupBase base, TempSettings temp,
        OnCbwError onCbwError, Duration cbwTimeout, long clusterBytes, boolean allowDiscard,
        SnapshotQuiescer quiescer, boolean keepWholeSnapshot) {

    public static final Duration DEFAULT_CBW_TIMEOUT = Duration.ofSeconds(45);

    public FleecingJobSpec {
        disks = List.copyOf(disks);
        if (disks.isEmpty()) {
            throw new IllegalArgumentException("a fleecing job needs at least one disk");
        }
        if (disks.stream().map(ActiveDisk::name).distinct().count() != disks.size()) {
            throw new IllegalArgumentException("a disk is listed twice");
        }
        Objects.requireNonNull(base);
        Objects.requireNonNull(temp);
        Objects.requireNonNull(onCbwError);
        Objects.requireNonNull(cbwTimeout);
        Objects.requireNonNull(quiescer);
        if (cbwTimeout.isNegative()) {
            throw new IllegalArgumentException("negative cbw-timeout");
        }
    }

    public static Builder builder(List<ActiveDisk> disks, TempSettings temp) {
        return new Builder(disks, temp);
    }

    /** Builds a {@link FleecingJobSpec} from the defaults. */
    public static final class Builder {
        private final List<ActiveDisk> disks;
        private final TempSettings temp;
        private String checkpoint;
        private BackupBase base = BackupBase.full();
        private OnCbwError onCbwError = OnCbwError.BREAK_SNAPSHOT;
        private Duration cbwTimeout = DEFAULT_CBW_TIMEOUT;
        private long clusterBytes;
        private boolean allowDiscard = true;
        private SnapshotQuiescer quiescer = SnapshotQuiescer.NONE;
        private boolean keepWholeSnapshot;

        private Builder(List<ActiveDisk> disks, TempSettings temp) {
            this.disks = disks;
            this.temp = temp;
        }

        public Builder checkpoint(String name) {
            this.checkpoint = name;
            return this;
        }

        public Builder base(BackupBase base) {
            this.base = base;
            return this;
        }

        public Builder onCbwError(OnCbwError policy) {
            this.onCbwError = policy;
            return this;
        }

        public Builder cbwTimeout(Duration timeout) {
            this.cbwTimeout = timeout;
            return this;
        }

        public Builder clusterBytes(long bytes) {
            this.clusterBytes = bytes;
            return this;
        }

        public Builder allowDiscard(boolean allow) {
            this.allowDiscard = allow;
            return this;
        }

        public Builder quiescer(SnapshotQuiescer quiescer) {
            this.quiescer = quiescer;
            return this;
        }

        public Builder keepWholeSnapshot(boolean keep) {
            this.keepWholeSnapshot = keep;
            return this;
        }

        public FleecingJobSpec build() {
            return new FleecingJobSpec(disks, checkpoint, base, temp, onCbwError, cbwTimeout, clusterBytes,
                    allowDiscard, quiescer, keepWholeSnapshot);
        }
    }
}
