package org.fleeced.daemon.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code fleeced attach NAME PATH}: attaches an image (or creates one) as a disk. */
@Command(name = "attach", mixinStandardHelpOptions = true,
        description = "Attach an image as a disk (served read-write over NBD), or create one with --create.",
        footer = {"", "Examples:", "  fleeced attach vm1 /var/lib/fleeced/images/vm1.qcow2 --format qcow2",
                "  fleeced attach vm2 /var/lib/fleeced/images/vm2.qcow2 --create 20G",
                "  fleeced attach vm3 /var/lib/fleeced/images/vm3.qcow2 --format qcow2 \\",
                "      --guest-agent /var/lib/fleeced/agents/vm3.qga"})
final class AttachCommand extends ClientCommand {
    @Parameters(index = "0", paramLabel = "NAME", description = "The disk's name (also its NBD export's).")
    String name;

    @Parameters(index = "1", paramLabel = "PATH", description = "The image, inside the daemon's image directories.")
    Path path;

    @Option(names = "--format", paramLabel = "qcow2|raw",
            description = "The image's format; required for an existing image (formats are never guessed).")
    String format;

    @Option(names = "--create", paramLabel = "SIZE", description = "Create the image first, of SIZE (e.g. 20G).")
    String create;

    @Option(names = "--cluster-size", paramLabel = "BYTES", description = "The new qcow2 image's cluster size.")
    String clusterSize;

    @Option(names = "--guest-agent", paramLabel = "SOCKET",
            description = "The guest agent's unix socket, for jobs with --freeze (inside the guest agent directories).")
    Path guestAgent;

    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("name", name);
        body.put("path", path.toAbsolutePath().toString());
        if (format != null) {
            body.put("format", format);
        }
        if (create != null) {
            Map<String, Object> spec = new LinkedHashMap<>();
            spec.put("sizeBytes", size(create, "--create"));
            if (clusterSize != null) {
                spec.put("clusterSize", size(clusterSize, "--cluster-size"));
            }
            body.put("create", spec);
        } else if (clusterSize != null) {
            throw new CliFailure(ExitStatus.USAGE, "--cluster-size goes with --create");
        }
        if (guestAgent != null) {
            body.put("guestAgent", Map.of("socket", guestAgent.toAbsolutePath().toString()));
        }
        var disk = client.post("v1/disks", body);
        if (json()) {
            printJson(out, disk);
        } else {
            out.println("attached " + disk.path("name").asText() + ": " + disk.path("path").asText() + " ("
                    + disk.path("format").asText() + ", " + ByteSize.format(disk.path("sizeBytes").asLong())
                    + "), export " + disk.at("/exports/0/uri").asText());
        }
        return ExitStatus.OK;
    }

    private static long size(String text, String option) throws CliFailure {
        try {
            return ByteSize.parse(text);
        } catch (IllegalArgumentException e) {
            throw new CliFailure(ExitStatus.USAGE, option + ": " + e.getMessage());
        }
    }
}
