package org.fleeced.it;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * {@code bin/fleeced daemon --config FILE} for one scenario, in its own directory:
 *
 * <pre>
 *   dir/fleeced.yaml     the configuration: REST and NBD on port 0, one bearer token, plus overrides
 *   dir/state/           stateDir (remembered disks, the NBD Unix socket nbd.sock)
 *   dir/images/          the only directory images may be attached from (unless the builder says others)
 *   dir/tmp/             the only directory temp images may live in (idem)
 *   dir/run-N.log        the operator log of the N-th start (run-N.out: its stdout)
 * </pre>
 *
 * The daemon binds ports the OS picks and the harness reads them from the log lines "REST
 * listening on" and "NBD listening on", so parallel builds never collide and no port is probed
 * before use; a start returns once {@code /health} answers 200 (the remembered disks attached). {@link #stop()} is SIGTERM, {@link #kill()} SIGKILL, and {@link #restart()} starts
 * it again on the same configuration and state; it gets new ports, which {@link #rest()} and
 * {@link #nbdUri} follow.
 */
final class DaemonUnderTest implements AutoCloseable {
    private static final Pattern REST = Pattern.compile("REST listening on (http://[0-9.]+:[0-9]+)");
    private static final Pattern NBD = Pattern.compile("NBD listening on nbd://([0-9.]+):([0-9]+)/");
    private static final Duration STARTUP = Duration.ofMinutes(2);

    private final Path dir;
    private final Path images;
    private final Path tempDir;
    private final String token;
    private final Map<String, String> env;
    private final List<String> arguments;
    private final RestClient rest;
    private FleecedProcess process;
    private int runs;
    private volatile URI restBase;
    private String nbdHost;
    private int nbdPort;

    private DaemonUnderTest(Builder b) {
        this.dir = b.dir;
        this.images = b.imageDirs.getFirst();
        this.tempDir = b.tempDirs.getFirst();
        this.token = b.token;
        this.env = Map.copyOf(b.env);
        this.arguments = List.copyOf(b.arguments);
        this.rest = new RestClient(() -> restBase, token);
    }

    /** A daemon that will live in {@code dir}; {@link Builder#start()} starts it. */
    static Builder in(Path dir) {
        return new Builder(dir);
    }

    /** A daemon in {@code dir} with the harness's configuration and nothing else. */
    static DaemonUnderTest start(Path dir) throws IOException {
        return in(dir).start();
    }

    /** The configuration and environment of a {@link DaemonUnderTest}. */
    static final class Builder {
        private final Path dir;
        private final String token = UUID.randomUUID().toString();
        private Path stateDir;
        private List<Path> imageDirs;
        private List<Path> tempDirs;
        /** Other top-level configuration keys, each with its YAML flow value; an override replaces a whole key. */
        private final Map<String, String> config = new LinkedHashMap<>();
        private final Map<String, String> env = new LinkedHashMap<>();
        private final List<String> arguments = new ArrayList<>();

        private Builder(Path dir) {
            this.dir = dir;
            this.stateDir = dir.resolve("state");
            this.imageDirs = List.of(dir.resolve("images"));
            this.tempDirs = List.of(dir.resolve("tmp"));
            config("rest", "{bind: 127.0.0.1, port: 0}");
            config("nbd", "{bind: 127.0.0.1, port: 0, socket: nbd.sock}");
            config("tokens", "[" + token + "]");
        }

        Builder stateDir(Path path) {
            this.stateDir = path;
            return this;
        }

        /** The directories images may be attached from (created at start). */
        Builder imageDirs(Path... paths) {
            this.imageDirs = List.of(paths);
            return this;
        }

        /** The directories temp images may live in (created at start). */
        Builder tempDirs(Path... paths) {
            this.tempDirs = List.of(paths);
            return this;
        }

        /**
         * Sets top-level key {@code key} of the configuration to {@code yaml}, e.g. {@code defaults}
         * or {@code nbd} (keep {@code port: 0}); the directories have their own setters.
         */
        Builder config(String key, String yaml) {
            config.put(key, yaml);
            return this;
        }

        /** An environment variable of the launcher, e.g. {@code FLEECED_JAVA_OPTS} (unset: its JVM defaults). */
        Builder env(String name, String value) {
            env.put(name, value);
            return this;
        }

        /** Options after {@code daemon --config FILE} on the command line. */
        Builder arguments(String... args) {
            arguments.addAll(List.of(args));
            return this;
        }

        DaemonUnderTest start() throws IOException {
            writeConfig();
            DaemonUnderTest daemon = new DaemonUnderTest(this);
            daemon.launch();
            return daemon;
        }

        private void writeConfig() throws IOException {
            Files.createDirectories(dir);
            Files.createDirectories(stateDir);
            for (Path p : imageDirs) {
                Files.createDirectories(p);
            }
            for (Path p : tempDirs) {
                Files.createDirectories(p);
            }
            StringBuilder yaml = new StringBuilder("stateDir: " + stateDir + "\n")
                    .append("imageDirs: ").append(flowList(imageDirs)).append('\n')
                    .append("tempDirs: ").append(flowList(tempDirs)).append('\n');
            config.forEach((key, value) -> yaml.append(key).append(": ").append(value).append('\n'));
            Files.writeString(dir.resolve("fleeced.yaml"), yaml);
        }

        /**
         * Starts the daemon on a configuration it must refuse: returns once it exited, with its
         * exit code and log; an assertion error if it came up instead.
         */
        Exit startRefused() throws IOException, InterruptedException {
            writeConfig();
            DaemonUnderTest daemon = new DaemonUnderTest(this);
            try (FleecedProcess refused = FleecedProcess.start(dir, "run-refused", daemon.env, daemon.command())) {
                if (!refused.waitFor(STARTUP)) {
                    throw new AssertionError("the daemon did not refuse to start:\n" + refused.log());
                }
                return new Exit(refused.exitCode(), refused.log());
            }
        }

        private static String flowList(List<Path> paths) {
            return paths.stream().map(Path::toString).collect(Collectors.joining(", ", "[", "]"));
        }
    }

    /** {@code daemon --config DIR/fleeced.yaml} and the builder's options. */
    private List<String> command() {
        List<String> args = new ArrayList<>(List.of("daemon", "--config", dir.resolve("fleeced.yaml").toString()));
        args.addAll(arguments);
        return args;
    }

    private void launch() throws IOException {
        FleecedProcess started = FleecedProcess.start(dir, "run-" + ++runs, env, command());
        process = started;
        Matcher[] found = new Matcher[2];
        try {
            await("daemon listening on REST and NBD").atMost(STARTUP).pollInterval(Duration.ofMillis(100))
                    .until(() -> {
                        String log = started.log();
                        if (!started.alive()) {
                            throw new IllegalStateException("the daemon exited:\n" + log);
                        }
                        found[0] = REST.matcher(log);
                        found[1] = NBD.matcher(log);
                        return found[0].find() && found[1].find();
                    });
        } catch (RuntimeException e) {
            kill();
            throw e;
        }
        restBase = URI.create(found[0].group(1));
        nbdHost = found[1].group(1);
        nbdPort = Integer.parseInt(found[1].group(2));
        // REST listens at once; the daemon is ready (200, not 503 "starting") once it attached the remembered disks
        try {
            await("daemon ready (/health 200)").atMost(STARTUP).pollInterval(Duration.ofMillis(50))
                    .until(() -> rest.get("health").status() == 200);
        } catch (RuntimeException e) {
            kill();
            throw e;
        }
    }

    /** How a daemon that refused to start ended: its exit code and its log. */
    record Exit(int code, String log) {
    }

    /** Starts the daemon again on the same configuration and state, after {@link #stop} or {@link #kill}. */
    void restart() throws IOException {
        if (process.alive()) {
            throw new IllegalStateException("stop or kill the daemon before starting it again");
        }
        launch();
    }

    /** SIGTERM; the exit code. */
    int stop() throws InterruptedException {
        return process.stop();
    }

    /** SIGKILL: no job is finished, no image is closed. */
    void kill() {
        try {
            process.kill();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    boolean alive() {
        return process.alive();
    }

    /** The JVM's pid (the launcher execs java). */
    long pid() {
        return process.pid();
    }

    /** The operator log of the current (or last) run. */
    String log() {
        return process.log();
    }

    RestClient rest() {
        return rest;
    }

    String token() {
        return token;
    }

    Path dir() {
        return dir;
    }

    /** The first image directory. */
    Path images() {
        return images;
    }

    /** The first temp directory. */
    Path tempDir() {
        return tempDir;
    }

    /** The NBD server's TCP port in the current run. */
    int nbdPort() {
        return nbdPort;
    }

    /** The TCP NBD URI of an export in the current run. */
    String nbdUri(String export) {
        return "nbd://" + nbdHost + ":" + nbdPort + "/" + export;
    }

    /** The NBD server itself, for {@code nbdinfo --list}. */
    String nbdServer() {
        return nbdUri("");
    }

    /** Creates {@code images/NAME.qcow2} with qemu-img and attaches it as disk NAME; the disk. */
    JsonNode attachNewQcow2(String name, long sizeBytes) throws IOException, InterruptedException {
        Path image = images().resolve(name + ".qcow2");
        Tool.run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), Long.toString(sizeBytes)).ok();
        return rest.attach(name, image, "qcow2");
    }

    /** Has the daemon create {@code images/NAME.qcow2} ({@code POST /v1/disks} with create); the disk. */
    JsonNode createDisk(String name, long sizeBytes) throws IOException, InterruptedException {
        return rest.createDisk(name, images().resolve(name + ".qcow2"), sizeBytes);
    }

    /** The export of disk {@code disk} in a job, as a TCP NBD URI built from its export name. */
    String fleeceUri(JsonNode job, String disk) {
        for (JsonNode d : job.get("disks")) {
            if (d.get("disk").asText().equals(disk)) {
                return nbdUri(d.get("export").asText());
            }
        }
        throw new AssertionError("job has no disk " + disk + ": " + job);
    }

    /** What a {@link #cli} run printed, and how it exited. */
    record CliRun(int exit, String out, String err) {
        CliRun ok() {
            if (exit != 0) {
                throw new AssertionError("exit " + exit + "\nstdout: " + out + "\nstderr: " + err);
            }
            return this;
        }

        JsonNode json() throws IOException {
            return RestClient.JSON.readTree(out);
        }
    }

    /**
     * {@code bin/fleeced ARGS --url URL} as an operator runs it against this daemon, with the
     * token in {@code FLEECED_TOKEN}; waits for it to exit.
     */
    CliRun cli(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(FleecedProcess.checkout().resolve("bin/fleeced").toString()));
        command.addAll(List.of(args));
        command.addAll(List.of("--url", restBase.toString()));
        Path out = Files.createTempFile(dir, "cli", ".out");
        Path err = Files.createTempFile(dir, "cli", ".err");
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        builder.environment().remove("FLEECED_JAVA_OPTS");
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().put("FLEECED_TOKEN", token);
        Process process = builder.start();
        if (!process.waitFor(2, java.util.concurrent.TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError("fleeced " + List.of(args) + " did not exit");
        }
        return new CliRun(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null) {
            process.close();
        }
    }
}
