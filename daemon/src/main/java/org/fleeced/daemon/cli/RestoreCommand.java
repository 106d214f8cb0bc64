package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code fleeced restore NAME PATH --from SOURCE}: instant restore. The new disk is usable at once
 * (its export serves what is restored and fetches the rest on demand) while the daemon streams
 * the rest in; {@code --wait} follows the stream to its end with a progress bar.
 */
@Command(name = "restore", mixinStandardHelpOptions = true,
        description = "Create a disk from a backup and attach it at once; the data streams in behind it.",
        footer = {"", "Examples:",
                "  fleeced restore vm1 /var/lib/fleeced/images/vm1.qcow2 \\",
                "      --from /var/lib/fleeced/backups/vm1/vm1-c3.qcow2 --format qcow2 --wait",
                "  fleeced restore vm1 /var/lib/fleeced/images/vm1.qcow2 --from nbd://backup-host/vm1 --limit 200M",
                "", "A backup file must lie inside the daemon's backupDirs (its whole backing chain too)."})
final class RestoreCommand extends ClientCommand {
    private static final Pattern NBD_URI = Pattern.compile("^nbds?(\\+unix)?://.*");

    @Parameters(index = "0", paramLabel = "NAME", description = "The new disk's name.")
    String name;

    @Parameters(index = "1", paramLabel = "PATH", description = "The new image (qcow2), inside the image directories.")
    Path path;

    @Option(names = "--from", required = true, paramLabel = "SOURCE",
            description = "The backup: a file (with --format) or an NBD URI.")
    String from;

    @Option(names = "--format", paramLabel = "qcow2|raw", description = "The backup file's format (never guessed).")
    String format;

    @Option(names = "--limit", paramLabel = "BYTES", description = "At most BYTES per second for the stream (e.g. 200M).")
    String limit;

    @Option(names = "--wait", description = "Follow the stream until the disk is fully restored.")
    boolean await;

    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        Map<String, Object> source = new LinkedHashMap<>();
        if (NBD_URI.matcher(from).matches()) {
            source.put("uri", from);
        } else {
            if (format == null) {
                throw new CliFailure(ExitStatus.USAGE, "--format qcow2|raw is required with a backup file"
                        + " (formats are never guessed)");
            }
            source.put("path", Path.of(from).toAbsolutePath().toString());
            source.put("format", format);
        }
        Map<String, Object> create = new LinkedHashMap<>();
        create.put("restoreFrom", source);
        if (limit != null) {
            try {
                create.put("restoreLimits", Map.of("bytesPerSecond", ByteSize.parse(limit)));
            } catch (IllegalArgumentException e) {
                throw new CliFailure(ExitStatus.USAGE, "--limit: " + e.getMessage());
            }
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", name);
        body.put("path", path.toAbsolutePath().toString());
        body.put("create", create);
        JsonNode disk = client.post("v1/disks", body);
        if (!json()) {
            out.println("restoring " + name + " from " + from + ": usable now at " + disk.at("/exports/0/uri").asText()
                    + " (" + ByteSize.format(disk.path("sizeBytes").asLong()) + ")");
            out.flush();
        }
        if (!await) {
            if (json()) {
                printJson(out, disk);
            }
            return ExitStatus.OK;
        }
        String diskPath = "v1/disks/" + PathSegment.of(name);
        ProgressDisplay.Progress last = new ProgressDisplay(spec.commandLine().getErr(), System.console() != null)
                .follow(() -> progress(client.get(diskPath)), "the restore goes on in the daemon");
        JsonNode now = client.get(diskPath);
        if (json()) {
            printJson(out, now);
        }
        if (!last.state().equals("complete")) {
            throw new CliFailure(ExitStatus.FAILED, "the restore of " + name + " " + last.state() + ": "
                    + now.at("/restore/lastError").asText("no reason given")
                    + " (guest reads of unrestored ranges still try the source; detach and attach to resume)");
        }
        if (!json()) {
            out.println("restored " + name + ": " + now.path("path").asText() + " no longer needs " + from);
        }
        return ExitStatus.OK;
    }

    private static ProgressDisplay.Progress progress(JsonNode disk) {
        JsonNode r = disk.path("restore");
        String state = r.path("state").asText("complete");
        return new ProgressDisplay.Progress(r.path("doneBytes").asLong(), r.path("totalBytes").asLong(),
                r.path("bytesPerSecond").asLong(), r.path("etaSeconds").asLong(-1), state, !state.equals("running"));
    }
}
