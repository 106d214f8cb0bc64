package org.fleeced.it;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * {@code fleeced daemon --config FILE} for one scenario: its own state directory, images directory
 * and free REST and NBD ports, started as a process through {@link DaemonProcess}. It can be
 * killed with SIGKILL and started again on the same state (each run logs to its own file).
 *
 * <pre>
 *   DIR/config.yaml      stateDir, ports, plus the scenario's extra YAML
 *   DIR/state/images/    where the scenario's images live (the only allowed image directory)
 *   DIR/state/tmp/       temp images of fleecing jobs
 *   DIR/run-N/fleeced.log
 * </pre>
 */
final class ScenarioDaemon implements AutoCloseable {
    private final Path dir;
    private final Path config;
    private final int restPort;
    private final int nbdPort;
    private final ScenarioRest rest;
    /** Started through bin/fleeced with its JVM defaults, instead of java -jar. */
    private final boolean launcher;
    private DaemonProcess process;
    private int runs;

    private ScenarioDaemon(Path dir, String extraYaml, boolean launcher) throws IOException {
        this.launcher = launcher;
        this.dir = Files.createDirectories(dir);
        this.restPort = DaemonProcess.freePort();
        this.nbdPort = DaemonProcess.freePort();
        this.config = dir.resolve("config.yaml");
        Files.writeString(config, "stateDir: " + dir.resolve("state") + "\n"
                + "rest: {bind: 127.0.0.1, port: " + restPort + "}\n"
                + "nbd: {bind: 127.0.0.1, port: " + nbdPort + "}\n" + extraYaml);
        this.rest = new ScenarioRest(restPort);
    }

    /** Starts a daemon in {@code dir} with the built-in defaults. */
    static ScenarioDaemon start(Path dir) throws IOException {
        return start(dir, "");
    }

    /** Starts a daemon in {@code dir}; {@code extraYaml} adds top-level keys (e.g. "defaults: {...}"). */
    static ScenarioDaemon start(Path dir, String extraYaml) throws IOException {
        ScenarioDaemon daemon = new ScenarioDaemon(dir, extraYaml, false);
        daemon.startAgain();
        return daemon;
    }

    /** Starts a daemon in {@code dir} as an operator would: {@code bin/fleeced daemon} with the launcher's defaults. */
    static ScenarioDaemon startWithLauncher(Path dir) throws IOException {
        ScenarioDaemon daemon = new ScenarioDaemon(dir, "", true);
        daemon.startAgain();
        return daemon;
    }

    /** Starts a new process on the same configuration and state (after {@link #kill} or {@link #stop}). */
    void startAgain() throws IOException {
        if (process != null && process.process().isAlive()) {
            throw new IllegalStateException("the daemon still runs");
        }
        Path runDir = Files.createDirectories(dir.resolve("run-" + ++runs));
        Path log = runDir.resolve("fleeced.log");
        DaemonProcess started = launcher
                ? DaemonProcess.startWithLauncher(runDir, log, "daemon", "--config", config.toString())
                : DaemonProcess.start(runDir, log, "daemon", "--config", config.toString());
        process = started;
        // REST listens at once; the daemon is ready once the start has attached the remembered disks
        await().atMost(Duration.ofSeconds(60)).until(() -> !started.process().isAlive()
                || started.log().contains("REST listening on") && rest.healthy());
        if (!started.process().isAlive()) {
            throw new IllegalStateException("the daemon did not start: " + started.log());
        }
    }

    ScenarioRest rest() {
        return rest;
    }

    int nbdPort() {
        return nbdPort;
    }

    /** The TCP URI of an export. */
    String uri(String export) {
        return "nbd://127.0.0.1:" + nbdPort + "/" + export;
    }

    Path images() {
        return dir.resolve("state/images");
    }

    Path tempImages() {
        return dir.resolve("state/tmp");
    }

    /** An absolute path in the images directory, as the API wants it. */
    String image(String file) {
        return images().resolve(file).toString();
    }

    DaemonProcess process() {
        return process;
    }

    boolean alive() {
        return process.process().isAlive();
    }

    String log() throws IOException {
        return process.log();
    }

    /** SIGKILL: no job is finished, no image is closed. */
    void kill() throws InterruptedException {
        process.kill();
    }

    /** SIGTERM; the exit code. */
    int stop() throws InterruptedException {
        return process.terminate();
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null) {
            process.close();
        }
    }
}
