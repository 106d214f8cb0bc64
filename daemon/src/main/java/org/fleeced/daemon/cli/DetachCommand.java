package org.fleeced.daemon.cli;

import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code fleeced detach NAME}: closes a disk's image cleanly and removes its export. */
@Command(name = "detach", mixinStandardHelpOptions = true,
        description = "Detach a disk: its image is closed cleanly, its export removed.",
        footer = {"", "Examples:", "  fleeced detach vm1", "  fleeced detach vm1 --force   # even with NBD clients connected"})
final class DetachCommand extends ClientCommand {
    @Parameters(paramLabel = "NAME", description = "The disk's name.")
    String name;

    @Option(names = "--force", description = "Detach even while NBD clients are connected (they are disconnected).")
    boolean force;

    @Override
    ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure {
        client.delete("v1/disks/" + PathSegment.of(name) + (force ? "?force=true" : ""));
        if (!json()) {
            out.println("detached " + name);
        }
        return ExitStatus.OK;
    }
}
