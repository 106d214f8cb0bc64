package org.fleeced.daemon.cli;

import picocli.CommandLine.Option;

/**
 * The options of the client commands, accepted before the command's name (on {@code fleeced})
 * and after it; given after it, they win. Null (or false) when not given.
 */
public final class ClientOptions {
    @Option(names = "--url", paramLabel = "URL",
            description = "The daemon's REST API (default: " + FleecedCommand.DEFAULT_URL + ").")
    String url;

    @Option(names = "--token", paramLabel = "TOKEN",
            description = "A bearer token of the daemon's configuration (default: $FLEECED_TOKEN).")
    String token;

    @Option(names = "--json", description = "Print exactly what the API returns, as JSON, for scripts.")
    boolean json;
}
