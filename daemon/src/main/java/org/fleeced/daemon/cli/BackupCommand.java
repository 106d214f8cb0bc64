package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code fleeced backup DISK... --to DIR}: one command for a backup into a qcow2 chain in DIR
 * (files {@code DISK-CHECKPOINT.qcow2}, the newest the top of the chain), taken by the daemon
 * itself (a push job), with a progress bar on a terminal and plain lines otherwise. Exit status 0
 * only when the job finished: then the checkpoint is committed and the file is a backup.
 */
@Command(name = "backup", mixinStandardHelpOptions = true,
        description = "Back disks up into qcow2 chains in a directory (the daemon copies: push mode).",
        footer = {"", "Examples:",
                "  fleeced backup vm1 --to /var/lib/fleeced/backups/vm1            # full",
                "  fleeced backup vm1 --to /var/lib/fleeced/backups/vm1 --auto     # incremental from the newest in DIR",
                "  fleeced backup vm1 vm1-data --to /var/lib/fleeced/backups/vm1 --incremental-from b-20261202-0900",
                "", "DIR must lie inside the daemon's backupDirs. Files are named DISK-CHECKPOINT.qcow2;",
                "restore the newest with: qemu-img convert -O qcow2 DIR/DISK-CHECKPOINT.qcow2 restored.qcow2"})
final class BackupCommand extends ClientCommand {
    private static final DateTimeFormatter GENERATED = DateTimeFormatter.ofPattern("'b-'yyyyMMdd-HHmmss");

    @Parameters(paramLabel = "DISK", arity = "1..*", description = "The disks, backed up at one point in time.")
    List<String> disks;

    @Option(names = "--to", required = true, paramLabel = "DIR", description = "The directory of the backup chain.")
    Path to;

    @ArgGroup(exclusive = true)
    Base base;

    /** Where an incremental backup starts from, if it is one. */
    static final class Base {
        @Option(names = "--incremental-from", paramLabel = "CHECKPOINT",
                description = "Back up the changes since this checkpoint (its backup is the new file's backing file).")
        String incrementalFrom;

        @Option(names = "--auto", description = "Incremental from the newest backup in DIR; full when DIR has none.")
        boolean auto;
    }

    @Option(names = "--checkpoint", paramLabel = "NAME",
            description = "The checkpoint the backup creates (default: b-YYYYMMDD-HHMMSS, UTC).")
    String checkpoint;

    @Option(names = "--freeze", paramLabel = "required|try|off",
            description = "Freeze the guests' file systems for the snapshot through their agents (default: off).")
    String freeze;

    @Option(names = "--keep-partial", description = "Keep the files of a backup that failed (they are not a backup).")
    boolean keepPartial;

    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        Path dir = to.toAbsolutePath().normalize();
        if (!Files.isDirectory(dir)) {
            throw new CliFailure(ExitStatus.USAGE, "--to " + dir + " is not a directory");
        }
        String name = checkpoint != null ? checkpoint : GENERATED.format(ZonedDateTime.now(ZoneOffset.UTC));
        String from = base == null ? null : base.auto ? newestCheckpoint(dir) : base.incrementalFrom;
        Map<String, Object> targets = new LinkedHashMap<>();
        for (String disk : disks) {
            Map<String, Object> target = new LinkedHashMap<>();
            target.put("path", dir.resolve(disk + "-" + name + ".qcow2").toString());
            target.put("format", "qcow2");
            Path previous = from == null ? null : dir.resolve(disk + "-" + from + ".qcow2");
            if (previous != null && Files.isRegularFile(previous)) {
                // named explicitly: the chain in DIR decides, also when the base came from a pull job
                target.put("backingFile", previous.toString());
                target.put("backingFormat", "qcow2");
            }
            targets.put(disk, target);
        }
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("disks", disks);
        request.put("checkpoint", name);
        if (from != null) {
            request.put("incrementalFrom", from);
        }
        if (freeze != null) {
            request.put("freeze", freeze);
        }
        request.put("keepPartial", keepPartial);
        request.put("targets", targets);
        JsonNode job = client.post("v1/jobs", request);
        String id = job.path("id").asText();
        String jobPath = "v1/jobs/" + PathSegment.of(id);
        new ProgressDisplay(spec.commandLine().getErr(), System.console() != null)
                .follow(() -> progress(client.get(jobPath)), "job " + id + " goes on in the daemon");
        JsonNode ended = client.get(jobPath);
        if (json()) {
            printJson(out, ended);
        } else if (ended.path("state").asText().equals("finished")) {
            for (JsonNode d : ended.path("disks")) {
                out.println("backup of " + d.path("disk").asText() + " at " + name + ": " + d.at("/target/path").asText()
                        + " (" + d.path("mode").asText() + (d.hasNonNull("base") ? " from " + d.get("base").asText() : "")
                        + ", " + ByteSize.format(d.at("/target/bytesWritten").asLong()) + " written)");
            }
        }
        if (!ended.path("state").asText().equals("finished")) {
            throw new CliFailure(ExitStatus.FAILED, "job " + id + " " + ended.path("state").asText() + ": "
                    + ended.path("failureReason").asText("no reason given"));
        }
        return ExitStatus.OK;
    }

    private static ProgressDisplay.Progress progress(JsonNode job) {
        JsonNode p = job.path("progress");
        String state = job.path("state").asText();
        return new ProgressDisplay.Progress(p.path("doneBytes").asLong(), p.path("totalBytes").asLong(),
                p.path("bytesPerSecond").asLong(), p.path("etaSeconds").asLong(-1), state,
                !state.equals("running") && !state.equals("starting"));
    }

    /**
     * The checkpoint of the newest backup in {@code dir}, the same for every disk (one job takes
     * one checkpoint on all its disks); null when {@code dir} has none, so the backup is full.
     */
    private String newestCheckpoint(Path dir) throws CliFailure {
        String common = null;
        for (String disk : disks) {
            String newest = BackupChainDirectory.newestCheckpoint(dir, disk);
            if (newest == null) {
                return null;
            }
            if (common != null && !common.equals(newest)) {
                throw new CliFailure(ExitStatus.USAGE, "--auto: the newest backups in " + dir + " are of different"
                        + " checkpoints (" + common + ", " + newest + "); name one with --incremental-from");
            }
            common = newest;
        }
        return common;
    }
}
