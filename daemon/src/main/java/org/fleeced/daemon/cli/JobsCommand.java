package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;

/** {@code fleeced jobs}: running jobs, then the ended ones the daemon keeps. */
@Command(name = "jobs", mixinStandardHelpOptions = true,
        description = "List the running jobs, then the ended ones the daemon keeps (24 hours or the last 1000).",
        footer = {"", "Examples:", "  fleeced jobs", "  fleeced jobs --json | jq -r '.[] | select(.state == \"running\") | .id'"})
final class JobsCommand extends ClientCommand {
    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        JsonNode jobs = client.get("v1/jobs");
        if (json()) {
            printJson(out, jobs);
            return ExitStatus.OK;
        }
        Table table = new Table("ID", "STATE", "CHECKPOINT", "DISKS", "CONSISTENCY", "CREATED", "ENDED");
        for (JsonNode j : jobs) {
            table.row(j.path("id").asText(), j.path("state").asText(), j.path("checkpoint").asText(null),
                    disks(j), j.path("consistency").asText(null), j.path("createdAt").asText(null),
                    j.path("endedAt").asText(null));
        }
        if (table.empty()) {
            out.println("No jobs.");
        } else {
            table.print(out);
        }
        return ExitStatus.OK;
    }

    static String disks(JsonNode job) {
        List<String> names = new ArrayList<>();
        job.path("disks").forEach(d -> names.add(d.path("disk").asText()));
        return String.join(",", names);
    }
}
