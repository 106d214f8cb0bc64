package org.fleeced.it;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code fleeced serve IMAGE ...} from the packaged jar as a process: its stdout (the NBD URI line)
 * and stderr (the operator log) in separate files, and the URI once the server is ready.
 */
final class ServeProcess implements AutoCloseable {
    private final Process process;
    private final Path out;
    private final Path err;
    private final String uri;

    private ServeProcess(Process process, Path out, Path err) {
        this.process = process;
        this.out = out;
        this.err = err;
        await().atMost(Duration.ofSeconds(30)).until(() -> !firstLine().isEmpty() || !process.isAlive());
        this.uri = firstLine();
        if (uri.isEmpty()) {
            throw new IllegalStateException("fleeced serve did not start: " + log());
        }
    }

    static ServeProcess start(Path dir, String... args) throws IOException {
        Path jar = Path.of(System.getProperty("fleeced.jar", "../daemon/target/fleeced.jar")).toAbsolutePath();
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-jar", jar.toString(), "serve"));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "serve", ".out");
        Path err = Files.createTempFile(dir, "serve", ".log");
        Process p = new ProcessBuilder(command).directory(dir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        return new ServeProcess(p, out, err);
    }

    /** A TCP server on a free ephemeral port for {@code image}, with extra options. */
    static ServeProcess tcp(Path dir, Path image, String... options) throws IOException {
        List<String> args = new ArrayList<>(List.of(image.toString(), "--port", String.valueOf(DaemonProcess.freePort())));
        args.addAll(List.of(options));
        return start(dir, args.toArray(String[]::new));
    }

    private String firstLine() {
        try {
            String text = Files.readString(out);
            int nl = text.indexOf('\n');
            return nl < 0 ? "" : text.substring(0, nl);
        } catch (IOException e) {
            return "";
        }
    }

    String uri() {
        return uri;
    }

    Process process() {
        return process;
    }

    String log() {
        try {
            return Files.readString(err);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** SIGTERM, then the exit code. */
    int terminate() throws InterruptedException {
        process.destroy();
        if (process.waitFor(30, TimeUnit.SECONDS)) {
            return process.exitValue();
        }
        process.destroyForcibly().waitFor();
        return -1;
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            terminate();
        }
    }
}
