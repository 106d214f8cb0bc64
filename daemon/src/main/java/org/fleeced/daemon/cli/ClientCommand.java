package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

/**
 * What every client command shares: the client options of {@link FleecedCommand}, and the
 * one-line error with its exit status when the daemon refuses or cannot be reached.
 */
abstract class ClientCommand implements Callable<Integer> {
    @ParentCommand
    FleecedCommand root;

    @Mixin
    ClientOptions own = new ClientOptions();

    @Spec
    CommandSpec spec;

    @Override
    public final Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try {
            return run(root.client(own), out).code();
        } catch (CliFailure e) {
            spec.commandLine().getErr().println("fleeced " + spec.name() + ": " + e.getMessage());
            spec.commandLine().getErr().flush();
            return e.status().code();
        } finally {
            out.flush();
        }
    }

    /** Does the command; prints to {@code out}. */
    abstract ExitStatus run(DaemonClient client, PrintWriter out) throws CliFailure;

    boolean json() {
        return root.json(own);
    }

    /** Prints {@code value} as the API returned it (pretty, one document). */
    static void printJson(PrintWriter out, JsonNode value) {
        try {
            out.println(DaemonClient.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(value));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
