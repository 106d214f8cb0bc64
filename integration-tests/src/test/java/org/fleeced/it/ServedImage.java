package org.fleeced.it;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code bin/fleeced serve IMAGE ...} through the same launcher as {@link DaemonUnderTest}: it
 * prints the export's NBD URI on stdout once it accepts connections, and the URI is all a test
 * needs. Over TCP it binds port 0, so the URI carries the port the OS picked.
 */
final class ServedImage implements AutoCloseable {
    private static final AtomicInteger RUNS = new AtomicInteger();

    private final FleecedProcess process;
    private final String uri;

    private ServedImage(FleecedProcess process) {
        this.process = process;
        await("fleeced serve prints its URI").atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(100))
                .until(() -> process.stdout().contains("\n") || !process.alive());
        String out = process.stdout();
        if (!out.contains("\n")) {
            throw new IllegalStateException("fleeced serve did not start: " + process.log());
        }
        this.uri = out.substring(0, out.indexOf('\n'));
    }

    /** {@code fleeced serve ARGS}, run in {@code dir} (its output files go there too). */
    static ServedImage start(Path dir, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("serve"));
        command.addAll(List.of(args));
        return new ServedImage(FleecedProcess.start(dir, "serve-" + RUNS.incrementAndGet(), Map.of(), command));
    }

    /** {@code image} over TCP on a port the OS picks, with extra options. */
    static ServedImage tcp(Path dir, Path image, String... options) throws IOException {
        List<String> args = new ArrayList<>(List.of(image.toString(), "--port", "0"));
        args.addAll(List.of(options));
        return start(dir, args.toArray(String[]::new));
    }

    String uri() {
        return uri;
    }

    boolean alive() {
        return process.alive();
    }

    long pid() {
        return process.pid();
    }

    String log() {
        return process.log();
    }

    /** SIGTERM; the exit code. */
    int stop() throws InterruptedException {
        return process.stop();
    }

    @Override
    public void close() throws InterruptedException {
        process.close();
    }
}
