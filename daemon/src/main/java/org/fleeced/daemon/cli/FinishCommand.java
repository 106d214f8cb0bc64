package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code fleeced finish ID success|failure}: ends a job. Exits 1 when a job reported a success
 * ended failed (its snapshot broke): the backup is not good.
 */
@Command(name = "finish", mixinStandardHelpOptions = true,
        description = "Finish a job: success keeps its checkpoint, failure merges its changes back.",
        footer = {"", "Examples:", "  fleeced finish 0f6c1d2e-... success", "  fleeced finish 0f6c1d2e-... failure"})
final class FinishCommand extends ClientCommand {
    /** The outcomes the API takes. */
    enum Outcome { success, failure }

    @Parameters(index = "0", paramLabel = "ID", description = "The job's id.")
    String id;

    @Parameters(index = "1", paramLabel = "OUTCOME", description = "success or failure.")
    Outcome outcome;

    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        JsonNode job = client.post("v1/jobs/" + PathSegment.of(id) + "/finish", Map.of("outcome", outcome.name()));
        if (json()) {
            printJson(out, job);
        } else {
            out.println("job " + job.path("id").asText() + ": " + job.path("state").asText()
                    + (job.hasNonNull("failureReason") ? " (" + job.get("failureReason").asText() + ")" : ""));
        }
        boolean good = outcome == Outcome.failure || job.path("state").asText().equals("finished");
        return good ? ExitStatus.OK : ExitStatus.FAILED;
    }
}
