package org.fleeced.daemon.app;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.concurrent.Callable;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code fleeced aot-training DIR}: the training run of the JVM's ahead-of-time cache (JEP 483,
 * 514, 515). {@code mvn package} runs it once through {@code bin/fleeced} with
 * {@code -XX:AOTCacheOutput=daemon/target/fleeced.aot}; the JVM then stores every class the run
 * loaded and linked, and the method profiles it gathered, and later starts of {@code bin/fleeced}
 * map them instead of loading, verifying and linking the classes again.
 *
 * <p>So the run does what a start does, through the same code: {@code daemon} on free ports in
 * DIR until {@code /health} answers 200, then a few REST calls an operator's tools make (create
 * a disk, start a job, finish it, metrics) and NBD writes and reads with a minimal client (on
 * the disk's export and on the job's); then {@code serve} on the disk's image with one read and
 * one write. Each command is stopped through its {@link StopSignal}, as SIGTERM would. The
 * clients are plain sockets, not the JDK's HTTP client, so that no class production never uses
 * goes into the cache. A step that fails is logged and ends the run early: the cache is still
 * valid, only less complete, and the build does not fail for it.
 */
final class AotTraining {
    static final String COMMAND = "aot-training";
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.aot");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long DISK_BYTES = 64L << 20;

    private AotTraining() {
    }

    static int run(String[] args) throws Exception {
        if (args.length != 1) {
            throw new UsageException("usage: fleeced " + COMMAND + " DIR");
        }
        Path dir = Path.of(args[0]).toAbsolutePath();
        deleteTree(dir);
        Files.createDirectories(dir);
        try {
            Path image = trainDaemon(dir);
            trainServe(image);
            LOG.info("training done");
        } catch (Exception e) {
            LOG.log(Level.WARNING, "training ended early (the AOT cache holds what ran until then): " + e, e);
        }
        return 0;
    }

    /** The daemon with a disk, a job and NBD I/O; returns the disk's image (closed again). */
    private static Path trainDaemon(Path dir) throws Exception {
        int restPort = freePort();
        int nbdPort = freePort();
        Path config = dir.resolve("fleeced.yaml");
        Files.writeString(config, "stateDir: " + dir.resolve("state") + "\n"
                + "rest: {port: " + restPort + "}\n" + "nbd: {port: " + nbdPort + "}\n");
        Path image = dir.resolve("state/images/train.qcow2");
        StopSignal stop = new StopSignal();
        FutureTask<Integer> daemon = start("daemon", () -> DaemonCommand.run(new String[] {"--config", config.toString()}, stop));
        try {
            Http rest = new Http(restPort);
            while (rest.call("GET", "/health", null).status() != 200) {
                ensureRunning(daemon);
                Thread.sleep(20);
            }
            rest.expect(201, "POST", "/v1/disks", "{\"name\":\"train\",\"path\":\"" + image
                    + "\",\"create\":{\"sizeBytes\":" + DISK_BYTES + "}}");
            rest.expect(200, "GET", "/v1/disks", null);
            try (Nbd disk = Nbd.connect(nbdPort, "train")) {
                disk.write(0, 1 << 20);
                disk.read(0, 1 << 20);
            }
            JsonNode job = rest.expect(201, "POST", "/v1/jobs", "{\"disks\":[\"train\"],\"checkpoint\":\"c1\"}");
            String id = job.get("id").asText();
            while (!"running".equals(job.get("state").asText())) {
                Thread.sleep(20);
                job = rest.expect(200, "GET", "/v1/jobs/" + id, null);
            }
            String uri = job.get("disks").get(0).get("uri").asText();
            try (Nbd disk = Nbd.connect(nbdPort, "train");
                 Nbd snapshot = Nbd.connect(nbdPort, uri.substring(uri.lastIndexOf('/') + 1))) {
                disk.write(0, 256 << 10);
                snapshot.read(0, 1 << 20);
            }
            rest.expect(200, "POST", "/v1/jobs/" + id + "/finish", "{\"outcome\":\"success\"}");
            rest.expect(200, "GET", "/metrics", null);
        } finally {
            stop.request("end of training");
            daemon.get(60, TimeUnit.SECONDS);
        }
        return image;
    }

    private static void trainServe(Path image) throws Exception {
        int port = freePort();
        StopSignal stop = new StopSignal();
        FutureTask<Integer> serve = start("serve", () -> ServeCommand.run(new String[] {image.toString(), "--port",
                String.valueOf(port)}, stop));
        try {
            Nbd export = null;
            while (export == null) {
                ensureRunning(serve);
                try {
                    export = Nbd.connect(port, "");
                } catch (IOException notYet) {
                    Thread.sleep(20);
                }
            }
            try (Nbd e = export) {
                e.read(0, 1 << 20);
                e.write(1 << 20, 64 << 10);
            }
        } finally {
            stop.request("end of training");
            serve.get(60, TimeUnit.SECONDS);
        }
    }

    private static FutureTask<Integer> start(String name, Callable<Integer> command) {
        FutureTask<Integer> task = new FutureTask<>(command);
        Thread.ofPlatform().name("aot-training-" + name).start(task);
        return task;
    }

    /** Throws what the command failed with, when it ended before it was asked to. */
    private static void ensureRunning(FutureTask<Integer> command) throws Exception {
        if (command.isDone()) {
            throw new IllegalStateException("the command ended early with " + command.get());
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (var paths = Files.walk(dir)) {
                for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    /** HTTP/1.1 on a socket per call, JSON bodies. */
    private record Http(int port) {
        record Answer(int status, String body) {
        }

        JsonNode expect(int status, String method, String path, String json) throws IOException {
            Answer a = call(method, path, json);
            if (a.status() != status) {
                throw new IOException(method + " " + path + " answered " + a.status() + ": " + a.body());
            }
            return a.body().startsWith("{") ? JSON.readTree(a.body()) : null;
        }

        Answer call(String method, String path, String json) throws IOException {
            try (Socket s = new Socket()) {
                try {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                } catch (IOException notListening) {
                    return new Answer(0, notListening.toString());
                }
                byte[] body = json == null ? new byte[0] : json.getBytes(StandardCharsets.UTF_8);
                String head = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                        + (json == null ? "" : "Content-Type: application/json\r\n")
                        + "Content-Length: " + body.length + "\r\n\r\n";
                s.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().write(body);
                String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                int headEnd = reply.indexOf("\r\n\r\n");
                String text = headEnd < 0 ? "" : reply.substring(headEnd + 4);
                return new Answer(Integer.parseInt(reply.substring(9, 12)), text);
            }
        }
    }

    /**
     * The least NBD client: fixed newstyle handshake, NBD_OPT_GO, simple replies, READ, WRITE and
     * DISC (see shared reference: the NBD protocol).
     */
    private static final class Nbd implements AutoCloseable {
        private static final long IHAVEOPT = 0x49484156454F5054L;
        private static final long OPTION_REPLY_MAGIC = 0x3e889045565a9L;
        private static final int REQUEST_MAGIC = 0x25609513;
        private static final int SIMPLE_REPLY_MAGIC = 0x67446698;
        private static final int OPT_GO = 7;
        private static final int REP_ACK = 1;
        private static final int CMD_READ = 0;
        private static final int CMD_WRITE = 1;
        private static final int CMD_DISC = 2;

        private final Socket socket;
        private final DataInputStream in;
        private final DataOutputStream out;
        private long cookie;

        private Nbd(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new DataInputStream(socket.getInputStream());
            this.out = new DataOutputStream(socket.getOutputStream());
        }

        static Nbd connect(int port, String export) throws IOException {
            Socket socket = new Socket();
            try {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                Nbd nbd = new Nbd(socket);
                nbd.go(export);
                return nbd;
            } catch (IOException e) {
                socket.close();
                throw e;
            }
        }

        private void go(String export) throws IOException {
            byte[] magic = new byte[8];
            in.readFully(magic);
            if (!"NBDMAGIC".equals(new String(magic, StandardCharsets.US_ASCII)) || in.readLong() != IHAVEOPT) {
                throw new IOException("no NBD greeting");
            }
            in.readUnsignedShort();
            out.writeInt(3); // FIXED_NEWSTYLE | NO_ZEROES
            byte[] name = export.getBytes(StandardCharsets.UTF_8);
            out.writeLong(IHAVEOPT);
            out.writeInt(OPT_GO);
            out.writeInt(4 + name.length + 2);
            out.writeInt(name.length);
            out.write(name);
            out.writeShort(0);
            out.flush();
            while (true) {
                if (in.readLong() != OPTION_REPLY_MAGIC) {
                    throw new IOException("bad option reply");
                }
                in.readInt();
                int type = in.readInt();
                in.readNBytes(in.readInt());
                if (type == REP_ACK) {
                    return;
                }
                if (type < 0) {
                    throw new IOException("NBD_OPT_GO refused: reply type " + Integer.toHexString(type));
                }
            }
        }

        void write(long offset, int length) throws IOException {
            byte[] data = new byte[length];
            Arrays.fill(data, (byte) 0x5a);
            request(CMD_WRITE, offset, length);
            out.write(data);
            out.flush();
            reply(0);
        }

        void read(long offset, int length) throws IOException {
            request(CMD_READ, offset, length);
            out.flush();
            reply(length);
        }

        private void request(int command, long offset, int length) throws IOException {
            out.writeInt(REQUEST_MAGIC);
            out.writeShort(0);
            out.writeShort(command);
            out.writeLong(++cookie);
            out.writeLong(offset);
            out.writeInt(length);
        }

        private void reply(int dataBytes) throws IOException {
            if (in.readInt() != SIMPLE_REPLY_MAGIC) {
                throw new IOException("bad reply magic");
            }
            int error = in.readInt();
            in.readLong();
            if (error != 0) {
                throw new IOException("NBD error " + error);
            }
            in.readNBytes(dataBytes);
        }

        @Override
        public void close() throws IOException {
            try {
                request(CMD_DISC, 0, 0);
                out.flush();
            } finally {
                socket.close();
            }
        }
    }
}
