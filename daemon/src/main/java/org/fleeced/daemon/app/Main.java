package org.fleeced.daemon.app;

/** Command-line entry point: {@code fleeced COMMAND ...}; see {@link FleecedCommandLine}. */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        OperatorLogFormat.install();
        System.exit(FleecedCommandLine.create().execute(args));
    }
}
