package org.fleeced.daemon.cli;

import java.net.URI;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code fleeced}: the top of the command line. It holds the client options, which every client
 * command accepts before its name as well as after it: where the daemon is, its token, and
 * whether to print JSON. The client subcommands are listed here; {@code app} adds
 * {@code daemon} and {@code serve}.
 */
@Command(name = "fleeced", mixinStandardHelpOptions = true, versionProvider = FleecedVersion.class,
        description = "A backup and fleecing daemon for virtual disks, and its command-line client.",
        subcommands = {DisksCommand.class, DiskCommand.class, AttachCommand.class, DetachCommand.class,
                CheckpointsCommand.class, BackupCommand.class, RestoreCommand.class, JobsCommand.class, JobCommand.class,
                FinishCommand.class,
                EventsCommand.class},
        footer = {"", "Client commands talk to a running daemon over its REST API. Exit status: 0 ok, 1 failed,"
                + " 2 usage, 3 daemon unreachable or starting, 4 not found, 5 conflict, 6 refused, 7 unauthorized."})
public final class FleecedCommand {
    static final String DEFAULT_URL = "http://127.0.0.1:8580";

    @Mixin
    ClientOptions options = new ClientOptions();

    /** A client of the daemon the options name: {@code own}'s where given, else these, else the defaults. */
    DaemonClient client(ClientOptions own) throws CliFailure {
        String url = own.url != null ? own.url : options.url != null ? options.url : DEFAULT_URL;
        String token = own.token != null ? own.token : options.token != null ? options.token
                : System.getenv("FLEECED_TOKEN");
        URI base;
        try {
            base = URI.create(url.endsWith("/") ? url : url + "/");
        } catch (IllegalArgumentException e) {
            throw new CliFailure(ExitStatus.USAGE, "--url " + url + " is not a URL: " + e.getMessage());
        }
        if (base.getScheme() == null || !(base.getScheme().equals("http") || base.getScheme().equals("https"))) {
            throw new CliFailure(ExitStatus.USAGE, "--url " + url + " must start with http:// or https://");
        }
        return new DaemonClient(base, token == null || token.isBlank() ? null : token);
    }

    boolean json(ClientOptions own) {
        return own.json || options.json;
    }
}
