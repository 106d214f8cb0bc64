package org.fleeced.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code bin/fleeced daemon|serve ...} started as an operator starts it, from the checkout the
 * packaged jar belongs to (path from the {@code fleeced.jar} system property): the launcher's JVM
 * defaults, which only {@code FLEECED_JAVA_OPTS} given by the test changes (not one in the tests'
 * own environment). It uses the JDK the tests run on, and execs java, so its pid is the JVM's.
 * stdout goes to {@code NAME.out} and stderr, the operator log, to {@code NAME.log}, both in the
 * run's directory.
 */
final class FleecedProcess implements AutoCloseable {
    private final Process process;
    private final Path out;
    private final Path log;

    private FleecedProcess(Process process, Path out, Path log) {
        this.process = process;
        this.out = out;
        this.log = log;
    }

    /** The top of the checkout whose {@code daemon/target/fleeced.jar} the tests run. */
    static Path checkout() {
        Path jar = Path.of(System.getProperty("fleeced.jar", "../daemon/target/fleeced.jar")).toAbsolutePath()
                .normalize();
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("no daemon jar at " + jar + " (run mvn package first)");
        }
        return jar.getParent().getParent().getParent();
    }

    /** Starts {@code bin/fleeced ARGS} in {@code dir} with {@code env} added to the tests' environment. */
    static FleecedProcess start(Path dir, String name, Map<String, String> env, List<String> args) throws IOException {
        List<String> command = new ArrayList<>(List.of(checkout().resolve("bin/fleeced").toString()));
        command.addAll(args);
        Path out = dir.resolve(name + ".out");
        Path log = dir.resolve(name + ".log");
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
                .redirectOutput(out.toFile()).redirectError(log.toFile());
        builder.environment().remove("FLEECED_JAVA_OPTS");
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().putAll(env);
        return new FleecedProcess(builder.start(), out, log);
    }

    boolean alive() {
        return process.isAlive();
    }

    long pid() {
        return process.pid();
    }

    /** What it printed on stdout so far. */
    String stdout() {
        return read(out);
    }

    /** Its operator log (stderr) so far. */
    String log() {
        return read(log);
    }

    private static String read(Path file) {
        try {
            return Files.exists(file) ? Files.readString(file) : "";
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** Waits for it to exit on its own; false when it still runs after {@code limit}. */
    boolean waitFor(Duration limit) throws InterruptedException {
        return process.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
    }

    int exitCode() {
        return process.exitValue();
    }

    /** SIGTERM, then the exit code (or -1 when it did not exit in time and was killed). */
    int stop() throws InterruptedException {
        process.destroy();
        if (process.waitFor(60, TimeUnit.SECONDS)) {
            return process.exitValue();
        }
        process.destroyForcibly().waitFor();
        return -1;
    }

    /** SIGKILL: what a crash looks like to the images. */
    void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            stop();
        }
    }
}
