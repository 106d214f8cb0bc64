package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code fleeced checkpoints DISK}: the disk's checkpoint chain, oldest first, with what an
 * incremental backup from each would read now (the daemon's plan).
 */
@Command(name = "checkpoints", mixinStandardHelpOptions = true,
        description = "Show a disk's checkpoint chain, oldest first, and what an incremental from each would read.",
        footer = {"", "Examples:", "  fleeced checkpoints vm1", "  fleeced checkpoints vm1 --json"})
final class CheckpointsCommand extends ClientCommand {
    @Parameters(paramLabel = "DISK", description = "The disk's name.")
    String disk;

    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        String path = "v1/disks/" + PathSegment.of(disk);
        JsonNode bitmaps = client.get(path + "/bitmaps");
        ArrayNode chain = DaemonClient.JSON.createArrayNode();
        for (JsonNode b : bitmaps) {
            ObjectNode entry = ((ObjectNode) b).deepCopy();
            try {
                JsonNode plan = client.get(path + "/plan?base=" + PathSegment.of(b.path("name").asText()));
                entry.put("incrementalReadBytes", plan.path("readBytes").asLong());
            } catch (CliFailure e) {
                // an inconsistent checkpoint cannot be a base: the plan says why
                entry.put("incrementalRefused", e.getMessage());
            }
            chain.add(entry);
        }
        if (json()) {
            printJson(out, chain);
            return ExitStatus.OK;
        }
        if (chain.isEmpty()) {
            out.println("Disk " + disk + " has no checkpoints: its next backup is a full one.");
            return ExitStatus.OK;
        }
        Table table = new Table("CHECKPOINT", "STATE", "DIRTY", "INCREMENTAL FROM IT READS");
        for (JsonNode c : chain) {
            table.row(c.path("name").asText(), c.path("state").asText(), ByteSize.format(c.path("dirtyBytes").asLong()),
                    c.has("incrementalReadBytes") ? ByteSize.format(c.get("incrementalReadBytes").asLong())
                            : "not possible: " + c.path("incrementalRefused").asText());
        }
        table.print(out);
        return ExitStatus.OK;
    }
}
