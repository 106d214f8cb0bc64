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
 * system property) started as a separate process, its log in a file for the test to read.
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
        Path jar = Path.of(System.getProperty("fleeced.jar", "../daemon/target/fleeced.jar")).toAbsolutePath();
        if (!Files.isRegularFile(jar)) {
            throw new IllegalStateException("no daemon jar at " + jar + " (run mvn package first)");
        }
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED"));
        command.addAll(jvmOptions);
        command.addAll(List.of("-jar", jar.toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command)
                .directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        return new DaemonProcess(p, log);
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
