package org.fleeced.it;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The packaged daemon ({@code daemon/target/fleeced.jar}, path from the {@code fleeced.jar}
 * system property) started as a separate process, its log in a file for the test to read: with
 * {@code java -jar} and a 1 GiB heap, or through the launcher {@code bin/fleeced} with its own
 * defaults (which {@code exec}s java, so the process is the JVM).
 */
public final class DaemonProcess implements AutoCloseable {
    private final Process process;
    private final Path log;

    private DaemonProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    public static DaemonProcess start(Path workDir, String... args) throws IOException {
        return start(workDir, workDir.resolve("fleeced.log"), args);
    }

    /** Starts the daemon with its output in {@code log} (a restarted daemon gets a new one). */
    public static DaemonProcess start(Path workDir, Path log, String... args) throws IOException {
        return start(workDir, log, List.of("-Xmx1g"), args);
    }

    /** As {@link #start(Path, Path, String...)}, with these JVM options (as bin/fleeced takes them from FLEECED_JAVA_OPTS). */
    public static DaemonProcess start(Path workDir, Path log, List<String> jvmOptions, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED"));
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", jar().toString()));
        command.addAll(List.of(args));
        return start(new ProcessBuilder(command), workDir, log);
    }

    /**
     * Starts {@code bin/fleeced} of the checkout the jar belongs to, with the launcher's JVM
     * defaults (no {@code FLEECED_JAVA_OPTS}) and this test's JDK.
     */
    public static DaemonProcess startWithLauncher(Path workDir, Path log, String... args) throws IOException {
        Path launcher = jar().getParent().getParent().getParent().resolve("bin/fleeced");
        List<String> command = new ArrayList<>(List.of(launcher.toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command);
        builder.environment().remove("FLEECED_JAVA_OPTS");
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        return start(builder, workDir, log);
    }

    private static DaemonProcess start(ProcessBuilder builder, Path workDir, Path log) throws IOException {
        Process p = builder.directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        return new DaemonProcess(p, log);
    }

    private static Path jar() {
        Path jar = Path.of(System.getProperty("fleeced.jar", "../daemon/target/fleeced.jar")).toAbsolutePath().normalize();
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("no daemon jar at " + jar + " (run mvn package first)");
        }
        return jar;
    }

    public Process process() {
        return process;
    }

    public String log() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    /** SIGTERM, then the exit code (or -1 when it did not exit in time and was killed). */
    public int terminate() throws InterruptedException {
        process.destroy();
        if (process.waitFor(30, TimeUnit.SECONDS)) {
            return process.exitValue();
        }
        process.destroyForcibly().waitFor();
        return -1;
    }

    /** SIGKILL: what a crash looks like to the images. */
    public void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            terminate();
        }
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
