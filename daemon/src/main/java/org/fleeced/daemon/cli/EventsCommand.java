package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import picocli.CommandLine.Command;

/** {@code fleeced events}: follows the daemon's event stream, one line per event. */
@Command(name = "events", mixinStandardHelpOptions = true,
        description = "Follow the daemon's events (jobs, disks, guest freezes), one line per event, until interrupted.",
        footer = {"", "Examples:", "  fleeced events", "  fleeced events --json | jq -c 'select(.type == \"job-failed\")'"})
final class EventsCommand extends ClientCommand {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm:ss");

    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        client.follow("v1/events", event -> {
            if (json()) {
                ObjectNode line = DaemonClient.JSON.createObjectNode().put("type", event.type()).put("id", event.id());
                line.set("data", event.data());
                out.println(line);
            } else {
                StringBuilder text = new StringBuilder(LocalTime.now().format(TIME)).append(' ').append(event.type());
                event.data().properties().forEach(f -> text.append(' ').append(f.getKey()).append('=')
                        .append(f.getValue().isTextual() ? f.getValue().asText() : f.getValue().toString()));
                out.println(text);
            }
            out.flush();
        });
        return ExitStatus.OK;
    }
}
