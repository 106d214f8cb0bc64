package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code fleeced job ID}: one job, with its exports and counters per disk. */
@Command(name = "job", mixinStandardHelpOptions = true, description = "Show one job.",
        footer = {"", "Examples:", "  fleeced job 0f6c1d2e-...", "  fleeced job 0f6c1d2e-... --json"})
final class JobCommand extends ClientCommand {
    @Parameters(paramLabel = "ID", description = "The job's id.")
    String id;

    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        JsonNode j = client.get("v1/jobs/" + PathSegment.of(id));
        if (json()) {
            printJson(out, j);
            return ExitStatus.OK;
        }
        out.println("job:         " + j.path("id").asText());
        out.println("state:       " + j.path("state").asText()
                + (j.hasNonNull("failureReason") ? " (" + j.get("failureReason").asText() + ")" : ""));
        out.println("checkpoint:  " + j.path("checkpoint").asText("-"));
        out.println("consistency: " + j.path("consistency").asText("crash")
                + (j.path("frozenMillis").asLong() > 0 ? ", guests frozen " + j.get("frozenMillis").asLong() + " ms" : ""));
        out.println("created:     " + j.path("createdAt").asText("-"));
        out.println(j.hasNonNull("endedAt") ? "ended:       " + j.get("endedAt").asText()
                : "lease until: " + j.path("leaseExpiresAt").asText("-"));
        out.println();
        Table disks = new Table("DISK", "MODE", "BASE", "READ", "READABLE", "TEMP", "EXPORT");
        for (JsonNode d : j.path("disks")) {
            JsonNode s = d.path("stats");
            disks.row(d.path("disk").asText(), d.path("mode").asText(), d.path("base").asText(null),
                    ByteSize.format(s.path("readBytes").asLong()), ByteSize.format(s.path("readableBytes").asLong()),
                    ByteSize.format(s.path("tempBytes").asLong()), d.path("uri").asText(d.path("export").asText()));
        }
        disks.print(out);
        return ExitStatus.OK;
    }
}
