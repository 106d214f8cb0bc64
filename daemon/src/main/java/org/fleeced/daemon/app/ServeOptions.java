package org.fleeced.daemon.app;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.daemon.nbd.server.NbdServerConfig;
import org.fleeced.daemon.nbd.server.NbdTlsConfig;

/** The command line of {@code fleeced serve}, parsed and checked; see {@link ServeCommand}. */
record ServeOptions(
        Path image,
        String format,
        boolean readOnly,
        String exportName,
        String bind,
        int port,
        Path socket,
        List<String> bitmaps,
        boolean allocationDepth,
        NbdTlsConfig tls,
        int maxConnections,
        Duration handshakeTimeout) {

    static final String USAGE = """
            usage: fleeced serve IMAGE [--format raw|qcow2] [--read-only] [--export NAME]
                                 [--bind ADDR] [--port N] | [--socket PATH]
                                 [--bitmap NAME]... [--allocation-depth]
                                 [--tls-cert FILE --tls-key FILE [--tls-ca FILE] [--tls-verify-client]]
                                 [--max-connections N] [--handshake-timeout SECONDS]
              serve    one image on one NBD export (like qemu-nbd); prints the NBD URI when ready
            """;

    static ServeOptions parse(String[] args) throws UsageException {
        Path image = null;
        String format = null;
        boolean readOnly = false;
        String exportName = "";
        String bind = "127.0.0.1";
        int port = 10809;
        Path socket = null;
        List<String> bitmaps = new ArrayList<>();
        boolean allocationDepth = false;
        Path cert = null;
        Path key = null;
        Path ca = null;
        boolean verifyClient = false;
        int maxConnections = NbdServerConfig.DEFAULT_MAX_CONNECTIONS;
        Duration handshakeTimeout = NbdServerConfig.DEFAULT_HANDSHAKE_TIMEOUT;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "--format", "-f" -> format = value(args, ++i, arg);
                case "--read-only", "-r" -> readOnly = true;
                case "--export", "-x" -> exportName = value(args, ++i, arg);
                case "--bind", "-b" -> bind = value(args, ++i, arg);
                case "--port", "-p" -> port = number(value(args, ++i, arg), arg, 0, 65535);
                case "--socket", "-k" -> socket = Path.of(value(args, ++i, arg));
                case "--bitmap", "-B" -> bitmaps.add(value(args, ++i, arg));
                case "--allocation-depth", "-A" -> allocationDepth = true;
                case "--tls-cert" -> cert = Path.of(value(args, ++i, arg));
                case "--tls-key" -> key = Path.of(value(args, ++i, arg));
                case "--tls-ca" -> ca = Path.of(value(args, ++i, arg));
                case "--tls-verify-client" -> verifyClient = true;
                case "--max-connections" -> maxConnections = number(value(args, ++i, arg), arg, 1, 100_000);
                case "--handshake-timeout" ->
                        handshakeTimeout = Duration.ofSeconds(number(value(args, ++i, arg), arg, 1, 3600));
                default -> {
                    if (arg.startsWith("-") || image != null) {
                        throw new UsageException("unknown option '" + arg + "' for 'fleeced serve'");
                    }
                    image = Path.of(arg);
                }
            }
        }
        if (image == null) {
            throw new UsageException("'fleeced serve' needs an IMAGE");
        }
        if (format != null && !format.equals("raw") && !format.equals("qcow2")) {
            throw new UsageException("--format must be raw or qcow2, not '" + format + "'");
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
                allocationDepth, tls, maxConnections, handshakeTimeout);
    }

    private static String value(String[] args, int i, String option) throws UsageException {
        if (i >= args.length) {
            throw new UsageException(option + " needs a value");
        }
        return args[i];
    }

    private static int number(String text, String option, int min, int max) throws UsageException {
        try {
            int n = Integer.parseInt(text);
            if (n < min || n > max) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new UsageException(option + " takes a number from " + min + " to " + max + ", not '" + text + "'");
        }
    }
}
