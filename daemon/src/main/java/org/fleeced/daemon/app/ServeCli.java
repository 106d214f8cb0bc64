package org.fleeced.daemon.app;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.fleeced.daemon.nbd.server.NbdServerConfig;
import org.fleeced.daemon.nbd.server.NbdTlsConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The command line of {@code fleeced serve}, checked into {@link ServeOptions}; see {@link ServeCommand}. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve one image on one NBD export (like qemu-nbd); prints the NBD URI when ready.",
        footer = {"", "Examples:", "  fleeced serve disk.qcow2 --format qcow2 --port 10810",
                "  fleeced serve disk.qcow2 --format qcow2 --read-only --socket /run/disk.sock --bitmap c1"})
final class ServeCli implements Callable<Integer> {
    @Parameters(paramLabel = "IMAGE", description = "The image file.")
    Path image;

    @Option(names = {"-f", "--format"}, paramLabel = "raw|qcow2", description = "The image's format (probed when absent).")
    String format;

    @Option(names = {"-r", "--read-only"}, description = "Refuse writes.")
    boolean readOnly;

    @Option(names = {"-x", "--export"}, paramLabel = "NAME", description = "The export's name (default: empty).")
    String exportName = "";

    @Option(names = {"-b", "--bind"}, paramLabel = "ADDR", description = "The address to listen on (default: 127.0.0.1).")
    String bind = "127.0.0.1";

    @Option(names = {"-p", "--port"}, paramLabel = "N", description = "The TCP port, 0 for any (default: 10809).")
    int port = 10809;

    @Option(names = {"-k", "--socket"}, paramLabel = "PATH", description = "Listen on this unix socket instead of TCP.")
    Path socket;

    @Option(names = {"-B", "--bitmap"}, paramLabel = "NAME",
            description = "Publish the qcow2 bitmap NAME as qemu:dirty-bitmap:NAME (repeatable).")
    List<String> bitmaps = new ArrayList<>();

    @Option(names = {"-A", "--allocation-depth"}, description = "Publish qemu:allocation-depth.")
    boolean allocationDepth;

    @Option(names = "--tls-cert", paramLabel = "FILE", description = "The server certificate (PEM); TLS is then required.")
    Path cert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "The server key (PEM).")
    Path key;

    @Option(names = "--tls-ca", paramLabel = "FILE", description = "CA certificates for client certificates (PEM).")
    Path ca;

    @Option(names = "--tls-verify-client", description = "Require a client certificate signed by --tls-ca.")
    boolean verifyClient;

    @Option(names = "--max-connections", paramLabel = "N", description = "At most N clients at once.")
    int maxConnections = NbdServerConfig.DEFAULT_MAX_CONNECTIONS;

    @Option(names = "--handshake-timeout", paramLabel = "SECONDS",
            description = "Drop a client that has not finished the handshake after SECONDS.")
    int handshakeTimeoutSeconds = (int) NbdServerConfig.DEFAULT_HANDSHAKE_TIMEOUT.toSeconds();

    @Override
    public Integer call() throws Exception {
        return ServeCommand.run(options(), StopSignal.install());
    }

    /** The options, checked together. */
    ServeOptions options() throws UsageException {
        if (format != null && !format.equals("raw") && !format.equals("qcow2")) {
            throw new UsageException("--format must be raw or qcow2, not '" + format + "'");
        }
        Ports.check(port, "--port");
        if (maxConnections < 1 || maxConnections > 100_000) {
            throw new UsageException("--max-connections takes a number from 1 to 100000, not " + maxConnections);
        }
        if (handshakeTimeoutSeconds < 1 || handshakeTimeoutSeconds > 3600) {
            throw new UsageException("--handshake-timeout takes 1 to 3600 seconds, not " + handshakeTimeoutSeconds);
        }
        if ((cert == null) != (key == null)) {
            throw new UsageException("--tls-cert and --tls-key go together");
        }
        if (cert == null && (ca != null || verifyClient)) {
            throw new UsageException("--tls-ca and --tls-verify-client need --tls-cert and --tls-key");
        }
        if (verifyClient && ca == null) {
            throw new UsageException("--tls-verify-client needs --tls-ca");
        }
        // like qemu-nbd with --tls-creds: a server that has a certificate accepts TLS connections only
        NbdTlsConfig tls = cert == null ? null : new NbdTlsConfig(cert, key, ca, verifyClient, true);
        return new ServeOptions(image, format, readOnly, exportName, bind, port, socket, List.copyOf(bitmaps),
                allocationDepth, tls, maxConnections, Duration.ofSeconds(handshakeTimeoutSeconds));
    }
}
