package org.fleeced.daemon.app;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The command line of {@code fleeced daemon}; see {@link DaemonCommand}. */
@Command(name = "daemon", mixinStandardHelpOptions = true,
        description = "Run the fleecing daemon: REST on 127.0.0.1:8580, NBD on 127.0.0.1:10809 by default.",
        footer = {"", "Examples:", "  fleeced daemon --config /etc/fleeced/fleeced.yaml",
                "  fleeced daemon --rest-port 0 --nbd-port 0      # any free ports (logged at start)"})
final class DaemonCli implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE",
            description = "A YAML or JSON file that overrides the built-in configuration key by key.")
    Path config;

    @Option(names = "--rest-bind", paramLabel = "ADDR", description = "The REST API's address (config rest.bind).")
    String restBind;

    @Option(names = "--rest-port", paramLabel = "N", description = "The REST API's port, 0 for any (config rest.port).")
    Integer restPort;

    @Option(names = "--nbd-port", paramLabel = "N", description = "The NBD server's port, 0 for any (config nbd.port).")
    Integer nbdPort;

    @Override
    public Integer call() throws Exception {
        // a signal during start-up is kept and stops the daemon once it has started
        return DaemonCommand.run(this, StopSignal.install());
    }

    void check() throws UsageException {
        Ports.check(restPort, "--rest-port");
        Ports.check(nbdPort, "--nbd-port");
    }
}
