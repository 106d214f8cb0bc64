package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;

/** {@code fleeced disks}: the attached disks, one line each. */
@Command(name = "disks", mixinStandardHelpOptions = true, description = "List the attached disks.",
        footer = {"", "Examples:", "  fleeced disks", "  fleeced disks --json | jq -r '.[].name'"})
final class DisksCommand extends ClientCommand {
    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        JsonNode disks = client.get("v1/disks");
        if (json()) {
            printJson(out, disks);
            return ExitStatus.OK;
        }
        Table table = new Table("NAME", "FORMAT", "SIZE", "ALLOCATED", "EXPORTS", "JOBS", "CHECKPOINTS");
        for (JsonNode d : disks) {
            table.row(d.path("name").asText(), d.path("format").asText(), ByteSize.format(d.path("sizeBytes").asLong()),
                    d.has("allocatedBytes") ? ByteSize.format(d.get("allocatedBytes").asLong()) : "?",
                    d.path("exports").size(), d.path("jobs").size(), checkpoints(d));
        }
        if (table.empty()) {
            out.println("No disks are attached (attach one with 'fleeced attach NAME PATH --format qcow2').");
        } else {
            table.print(out);
        }
        return ExitStatus.OK;
    }

    /** {@code c1 (recovered), c2 (recording)}. */
    static String checkpoints(JsonNode disk) {
        List<String> names = new ArrayList<>();
        for (JsonNode b : disk.path("bitmaps")) {
            names.add(b.path("name").asText() + " (" + b.path("state").asText() + ")");
        }
        return names.isEmpty() ? "-" : String.join(", ", names);
    }
}
