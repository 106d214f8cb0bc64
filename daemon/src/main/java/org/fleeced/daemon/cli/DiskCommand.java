package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code fleeced disk NAME}: one disk, its exports and its checkpoints. */
@Command(name = "disk", mixinStandardHelpOptions = true, description = "Show one disk.",
        footer = {"", "Examples:", "  fleeced disk vm1", "  fleeced disk vm1 --json"})
final class DiskCommand extends ClientCommand {
    @Parameters(paramLabel = "NAME", description = "The disk's name.")
    String name;

    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        JsonNode d = client.get("v1/disks/" + PathSegment.of(name));
        if (json()) {
            printJson(out, d);
            return ExitStatus.OK;
        }
        out.println("disk:        " + d.path("name").asText());
        out.println("image:       " + d.path("path").asText() + " (" + d.path("format").asText() + ")");
        out.println("size:        " + ByteSize.format(d.path("sizeBytes").asLong()) + ", cluster "
                + ByteSize.format(d.path("clusterSize").asLong()));
        out.println("allocated:   " + (d.has("allocatedBytes") ? ByteSize.format(d.get("allocatedBytes").asLong())
                : "unknown: " + d.path("allocatedBytesError").asText()));
        if (d.hasNonNull("guestAgent")) {
            out.println("guest agent: " + d.at("/guestAgent/socket").asText());
        }
        out.println("jobs:        " + (d.path("jobs").isEmpty() ? "-" : d.path("jobs").toString()));
        out.println();
        Table exports = new Table("EXPORT", "ACCESS", "URI");
        for (JsonNode e : d.path("exports")) {
            exports.row(e.path("name").asText(), e.path("readOnly").asBoolean() ? "read-only" : "read-write",
                    e.path("uri").asText());
        }
        exports.print(out);
        out.println();
        Table checkpoints = new Table("CHECKPOINT", "STATE", "DIRTY", "GRANULARITY", "RECORDING");
        for (JsonNode b : d.path("bitmaps")) {
            checkpoints.row(b.path("name").asText(), b.path("state").asText(),
                    ByteSize.format(b.path("dirtyBytes").asLong()), ByteSize.format(b.path("granularity").asLong()),
                    b.path("enabled").asBoolean() ? "yes" : "no");
        }
        if (checkpoints.empty()) {
            out.println("No checkpoints yet: the first backup is a full one.");
        } else {
            checkpoints.print(out);
        }
        return ExitStatus.OK;
    }
}
