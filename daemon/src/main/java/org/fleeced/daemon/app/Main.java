package org.fleeced.daemon.app;

import java.util.Arrays;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Command-line entry point: {@code fleeced daemon [options]} runs the daemon; {@code serve} and
 * {@code checksum} are the other commands.
 */
public final class Main {
    private static final Logger LOG = Logger.getLogger(Main.class.getName());

    private Main() {
    }

    public static void main(String[] args) {
        OperatorLogFormat.install();
        if (args.length == 0) {
            usage();
            System.exit(2);
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        try {
            int status = switch (args[0]) {
                // a signal during start-up is kept and stops the command once it has started
                case "daemon" -> DaemonCommand.run(rest, StopSignal.install());
                case "serve" -> ServeCommand.run(rest, StopSignal.install());
                case "checksum" -> ChecksumCommand.run(rest);
                case AotTraining.COMMAND -> AotTraining.run(rest);
                case "help", "--help", "-h" -> {
                    usage();
                    yield 0;
                }
                default -> {
                    LOG.severe("unknown command '" + args[0] + "'");
                    usage();
                    yield 2;
                }
            };
            System.exit(status);
        } catch (UsageException e) {
            LOG.severe(e.getMessage());
            System.exit(2);
        } catch (Exception e) {
            LOG.log(Level.SEVERE, "fleeced failed: " + e.getMessage(), e);
            System.exit(1);
        }
    }

    private static void usage() {
        System.err.println("""
                usage: fleeced daemon [--rest-bind ADDR] [--rest-port N]
                  daemon   run the fleecing daemon (REST on 127.0.0.1:8580 by default)
                """ + ServeOptions.USAGE + ChecksumOptions.USAGE);
    }
}
