package org.fleeced.daemon.cli;

import java.io.PrintWriter;

/**
 * Follows something long (a push job, a restore stream) until it ends: on a terminal one bar
 * redrawn in place (bytes, rate, ETA), otherwise a plain line every {@link #PLAIN_EVERY_MILLIS}
 * for logs, and the final state as the last line either way.
 */
final class ProgressDisplay {
    private static final long POLL_MILLIS = 500;
    private static final long PLAIN_EVERY_MILLIS = 5000;
    private static final int WIDTH = 30;

    /** One reading; {@code etaSeconds} negative when unknown. */
    record Progress(long doneBytes, long totalBytes, long bytesPerSecond, long etaSeconds, String state, boolean ended) {
    }

    /** Reads the progress once (a GET of the job or the disk). */
    @FunctionalInterface
    interface Source {
        Progress poll() throws CliFailure;
    }

    private final PrintWriter err;
    private final boolean terminal;

    ProgressDisplay(PrintWriter err, boolean terminal) {
        this.err = err;
        this.terminal = terminal;
    }

    /** Polls {@code source} until it reports an end; that last reading. */
    Progress follow(Source source, String interruptedHint) throws CliFailure {
        long lastPlain = 0;
        Progress p = source.poll();
        while (!p.ended()) {
            long now = System.currentTimeMillis();
            if (terminal) {
                err.print("\r" + line(p));
                err.flush();
            } else if (now - lastPlain >= PLAIN_EVERY_MILLIS) {
                err.println(line(p));
                err.flush();
                lastPlain = now;
            }
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CliFailure(ExitStatus.FAILED, "interrupted; " + interruptedHint);
            }
            p = source.poll();
        }
        err.print((terminal ? "\r" : "") + line(p) + "\n");
        err.flush();
        return p;
    }

    /** {@code [#######.............]  23%  1.2 GiB of 5.0 GiB  210 MiB/s  ETA 19 s  running}. */
    static String line(Progress p) {
        int percent = p.totalBytes() > 0 ? (int) Math.min(100, p.doneBytes() * 100 / p.totalBytes())
                : p.ended() ? 100 : 0;
        int filled = percent * WIDTH / 100;
        String bar = "#".repeat(filled) + ".".repeat(WIDTH - filled);
        String rate = p.bytesPerSecond() > 0 ? ByteSize.format(p.bytesPerSecond()) + "/s" : "";
        String eta = p.etaSeconds() >= 0 && !p.ended() ? "ETA " + p.etaSeconds() + " s" : "";
        return String.format("[%s] %3d%%  %s of %s  %s  %s  %s", bar, percent, ByteSize.format(p.doneBytes()),
                ByteSize.format(p.totalBytes()), rate, eta, p.state()).replaceAll(" {3,}", "  ").stripTrailing();
    }
}
