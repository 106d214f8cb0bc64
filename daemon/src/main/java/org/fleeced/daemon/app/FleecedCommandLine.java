package org.fleeced.daemon.app;

import java.io.PrintWriter;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.fleeced.daemon.cli.ExitStatus;
import org.fleeced.daemon.cli.FleecedCommand;
import picocli.AutoComplete;
import picocli.CommandLine;

/**
 * The whole command line: the client commands ({@link FleecedCommand}), {@code daemon},
 * {@code serve}, {@code checksum}, {@code generate-completion} (a bash/zsh completion script:
 * {@code source <(bin/fleeced generate-completion)}) and the hidden AOT training run. A mistake on the line is one line that names
 * it and points to {@code --help}; a command that cannot run says why in one line; only a bug
 * logs a stack trace.
 */
final class FleecedCommandLine {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon");

    private FleecedCommandLine() {
    }

    static CommandLine create() {
        CommandLine line = new CommandLine(new FleecedCommand())
                .addSubcommand(new DaemonCli())
                .addSubcommand(new ServeCli())
                .addSubcommand(new ChecksumCli())
                .addSubcommand(new AotTrainingCli())
                .addSubcommand("generate-completion", new AutoComplete.GenerateCompletion());
        line.setParameterExceptionHandler((e, args) -> {
            CommandLine failed = e.getCommandLine();
            PrintWriter err = failed.getErr();
            err.println(failed.getCommandSpec().qualifiedName() + ": " + e.getMessage() + " (see '"
                    + failed.getCommandSpec().qualifiedName() + " --help')");
            err.flush();
            return ExitStatus.USAGE.code();
        });
        line.setExecutionExceptionHandler((e, failed, parsed) -> {
            if (e instanceof UsageException) {
                // one line of the operator log: daemon and serve log there, and it says why they did not start
                LOG.severe(failed.getCommandSpec().qualifiedName() + ": " + e.getMessage());
                return ExitStatus.USAGE.code();
            }
            LOG.log(Level.SEVERE, failed.getCommandSpec().qualifiedName() + " failed: " + e.getMessage(), e);
            return ExitStatus.FAILED.code();
        });
        return line;
    }
}
