package org.fleeced.daemon.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;
import org.fleeced.push.BackupFile;

/**
 * Which backup file a push job wrote for each checkpoint of each disk, so that the next
 * incremental push from that checkpoint can name it as its backing file. Kept in
 * {@code STATE_DIR/backup-chains} (a {@link RecordLog}: one durable record per committed push, a
 * torn last record skipped), so it survives restarts and crashes.
 *
 * <p>A record is {@code DISK TAB CHECKPOINT TAB FORMAT TAB PATH}; the last record for a
 * (disk, checkpoint) wins. A job that commits a checkpoint without pushing it (a pull job) records
 * {@code -} as the format, which forgets the file: a checkpoint name reused by a later job no
 * longer points at the backup of the earlier one.
 *
 * <p>Thread-safe: every method is synchronized.
 */
public final class BackupChains {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.jobs");
    private static final String FORGOTTEN = "-";

    private final RecordLog log;
    /** The latest file per disk, then per checkpoint. Guarded by this. */
    private final Map<String, Map<String, BackupFile.Backing>> files = new LinkedHashMap<>();

    private BackupChains(RecordLog log) {
        this.log = log;
    }

    /** Reads what the previous runs recorded, then compacts the file to it. */
    public static BackupChains open(Path stateDir) throws IOException {
        Files.createDirectories(stateDir);
        BackupChains chains = new BackupChains(new RecordLog(stateDir.resolve("backup-chains")));
        chains.load();
        return chains;
    }

    /** The backup file pushed for {@code checkpoint} of {@code disk}, if one was and is still remembered. */
    public synchronized Optional<BackupFile.Backing> find(String disk, String checkpoint) {
        return Optional.ofNullable(files.getOrDefault(disk, Map.of()).get(checkpoint));
    }

    /** Records, durably, that {@code file} holds the backup up to {@code checkpoint} of {@code disk}. */
    public synchronized void remember(String disk, String checkpoint, BackupFile.Backing file) throws IOException {
        log.append(String.join("\t", disk, checkpoint, file.format().name(), file.file().toString()));
        files.computeIfAbsent(disk, d -> new LinkedHashMap<>()).put(checkpoint, file);
    }

    /** Forgets any backup file of {@code checkpoint} of {@code disk} (a job committed it without one). */
    public synchronized void forget(String disk, String checkpoint) throws IOException {
        Map<String, BackupFile.Backing> ofDisk = files.get(disk);
        if (ofDisk == null || ofDisk.remove(checkpoint) == null) {
            return;
        }
        log.append(String.join("\t", disk, checkpoint, FORGOTTEN, ""));
    }

    private synchronized void load() throws IOException {
        RecordLog.Contents contents = log.read();
        if (contents.damagedLines() > 0) {
            LOG.warning("backup chains " + log.file() + ": skipped " + contents.damagedLines()
                    + " damaged record(s) (a write torn by a crash)");
        }
        for (String record : contents.records()) {
            String[] f = record.split("\t", 4);
            if (f.length != 4) {
                LOG.warning("backup chains " + log.file() + ": skipped an unreadable record");
                continue;
            }
            Map<String, BackupFile.Backing> ofDisk = files.computeIfAbsent(f[0], d -> new LinkedHashMap<>());
            if (f[2].equals(FORGOTTEN)) {
                ofDisk.remove(f[1]);
            } else {
                ofDisk.put(f[1], new BackupFile.Backing(Path.of(f[3]), BackupFile.Format.valueOf(f[2])));
            }
        }
        List<String> compact = new ArrayList<>();
        files.forEach((disk, ofDisk) -> ofDisk.forEach((checkpoint, file) ->
                compact.add(String.join("\t", disk, checkpoint, file.format().name(), file.file().toString()))));
        log.rewrite(compact);
    }
}
