package org.fleeced.it;

import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code fleeced daemon --config FILE} for one scenario, in its own directory:
 *
 * <pre>
 *   dir/fleeced.yaml     the configuration (REST and NBD on ports the OS picks, one bearer token)
 *   dir/state/           stateDir (remembered disks, the NBD Unix socket nbd.sock)
 *   dir/images/          the only directory images may be attached from
 *   dir/tmp/             the only directory temp images may live in
 * </pre>
 *
 * The ports are read from the daemon's log ("REST listening on", "NBD listening on"), so parallel
 * builds on one host never collide. {@link #stop()} sends SIGTERM; {@link #startAgain()} starts it
 * again on the same configuration and directories.
 */
final class RunningDaemon implements AutoCloseable {
    private static final Pattern REST = Pattern.compile("REST listening on (http://[0-9.]+:[0-9]+)");
    private static final Pattern NBD = Pattern.compile("NBD listening on nbd://([0-9.]+:[0-9]+)/");

    private final Path dir;
    private final String token;
    private final DaemonProcess process;
    private final RestClient rest;
    private final String nbdAddress;
    private final int generation;
    private final List<String> jvmOptions;

    private RunningDaemon(Path dir, String token, DaemonProcess process, RestClient rest, String nbdAddress,
            int generation, List<String> jvmOptions) {
        this.jvmOptions = jvmOptions;
        this.dir = dir;
        this.token = token;
        this.process = process;
        this.rest = rest;
        this.nbdAddress = nbdAddress;
        this.generation = generation;
    }

    /** Writes the configuration into {@code dir} and starts the daemon on it. */
    static RunningDaemon start(Path dir) throws IOException, InterruptedException {
        return start(dir, "", List.of("-Xmx1g"));
    }

    /**
     * As {@link #start(Path)}, with more keys of the {@code nbd} section ({@code nbdKeys}, e.g.
     * {@code "requestTimeoutSeconds: 3"}) and the daemon's JVM options.
     */
    static RunningDaemon start(Path dir, String nbdKeys, List<String> jvmOptions) throws IOException, InterruptedException {
        for (String sub : new String[] {"state", "images", "tmp"}) {
            Files.createDirectories(dir.resolve(sub));
        }
        String token = UUID.randomUUID().toString();
        Files.writeString(dir.resolve("fleeced.yaml"), String.join("\n",
                "stateDir: " + dir.resolve("state"),
                "rest: {bind: 127.0.0.1, port: 0}",
                "nbd: {bind: 127.0.0.1, port: 0, socket: nbd.sock" + (nbdKeys.isEmpty() ? "" : ", " + nbdKeys) + "}",
                "imageDirs: [" + dir.resolve("images") + "]",
                "tempDirs: [" + dir.resolve("tmp") + "]",
                "tokens: [" + token + "]",
                ""));
        return launch(dir, token, 1, jvmOptions);
    }

    private static RunningDaemon launch(Path dir, String token, int generation, List<String> jvmOptions)
            throws IOException, InterruptedException {
        Path log = dir.resolve(generation == 1 ? "fleeced.log" : "fleeced-" + generation + ".log");
        DaemonProcess process = DaemonProcess.start(dir, log, jvmOptions, "daemon", "--config",
                dir.resolve("fleeced.yaml").toString());
        String[] found = new String[2];
        try {
            await("daemon listening on REST and NBD").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(() -> {
                        String text = process.log();
                        if (!process.process().isAlive()) {
                            throw new IllegalStateException("the daemon exited with " + process.process().exitValue()
                                    + ":\n" + text);
                        }
                        Matcher r = REST.matcher(text);
                        Matcher n = NBD.matcher(text);
                        if (r.find() && n.find()) {
                            found[0] = r.group(1);
                            found[1] = n.group(1);
                            return true;
                        }
                        return false;
                    });
            // REST listens at once; the daemon is ready once the start has attached the remembered disks
            RestClient rest = new RestClient(URI.create(found[0] + "/"), token);
            await("daemon ready (/health 200)").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50))
                    .until(() -> rest.get("health").status() == 200);
            return new RunningDaemon(dir, token, process, rest, found[1], generation, jvmOptions);
        } catch (RuntimeException e) {
            process.kill();
            throw e;
        }
    }

    /** Starts the daemon again on the same configuration and directories, after it stopped. */
    RunningDaemon startAgain() throws IOException, InterruptedException {
        if (process.process().isAlive()) {
            throw new IllegalStateException("stop the daemon before starting it again");
        }
        return launch(dir, token, generation + 1, jvmOptions);
    }

    /** SIGTERM; the exit code. */
    int stop() throws InterruptedException {
        return process.terminate();
    }

    /** SIGKILL: no job is finished, no image is closed, nothing is written at the end. */
    void kill() throws InterruptedException {
        process.kill();
    }

    String log() throws IOException {
        return process.log();
    }

    /** The NBD TCP port. */
    int nbdPort() {
        return Integer.parseInt(nbdAddress.substring(nbdAddress.lastIndexOf(':') + 1));
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

    Path images() {
        return dir.resolve("images");
    }

    Path tempDir() {
        return dir.resolve("tmp");
    }

    /** The NBD URI of an export over TCP. */
    String nbdUri(String export) {
        return "nbd://" + nbdAddress + "/" + export;
    }

    /** The NBD server itself, for {@code nbdinfo --list}. */
    String nbdServer() {
        return "nbd://" + nbdAddress + "/";
    }

    /** Creates {@code images/NAME.qcow2} with qemu-img and attaches it as disk NAME; the disk's JSON. */
    JsonNode attachNewQcow2(String name, long sizeBytes) throws IOException, InterruptedException {
        Path image = images().resolve(name + ".qcow2");
        Tool.run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), Long.toString(sizeBytes)).ok();
        return rest.post("v1/disks", Map.of("name", name, "path", image.toString())).expect(201).json();
    }

    /** Starts a job (201 expected); the job's JSON. */
    JsonNode startJob(Map<String, ?> request) throws IOException, InterruptedException {
        return rest.post("v1/jobs", request).expect(201).json();
    }

    /** Finishes a job with {@code outcome} (200 expected); the job's JSON. */
    JsonNode finishJob(String id, String outcome) throws IOException, InterruptedException {
        return rest.post("v1/jobs/" + id + "/finish", Map.of("outcome", outcome)).expect(200).json();
    }

    JsonNode job(String id) throws IOException, InterruptedException {
        return rest.get("v1/jobs/" + id).expect(200).json();
    }

    /** The export of disk {@code disk} in a job's JSON, as a TCP NBD URI. */
    String fleeceUri(JsonNode job, String disk) {
        for (JsonNode d : job.get("disks")) {
            if (d.get("disk").asText().equals(disk)) {
                return nbdUri(d.get("export").asText());
            }
        }
        throw new AssertionError("job has no disk " + disk + ": " + job);
    }

    @Override
    public void close() throws InterruptedException {
        process.close();
    }
}
