package org.fleeced.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * What a workload and a backup program do over NBD, each step one real client: qemu-io and fio
 * write (the workload), nbdcopy copies (a full backup), nbdinfo maps extents and lists exports,
 * qemu-img compares, and {@code nbd_client.py} (libnbd through the system python, a test resource
 * whose docstring lists its operations) sends single requests, copies dirty extents and holds
 * requests in flight. A libnbd operation answers an {@link NbdOutcome}: ok, or the errno and the
 * server's structured error message.
 */
final class NbdDriver {
    private static final String PYTHON = "/usr/bin/python3";

    private NbdDriver() {
    }

    /** A byte range; in a dirty-bitmap map, one run of dirty clusters. */
    record Extent(long offset, long length) {
        @Override
        public String toString() {
            return "[" + offset + ", +" + length + ")";
        }

        /** Whether {@code extents} (ascending, as a map lists them) cover this range, adjacent ones together. */
        boolean coveredBy(List<Extent> extents) {
            long at = offset;
            for (Extent x : extents) {
                if (x.offset <= at && at < x.offset + x.length) {
                    at = x.offset + x.length;
                }
            }
            return at >= offset + length;
        }
    }

    /** How one libnbd operation ended: errno null on success; the server's message when it sent one. */
    record NbdOutcome(String op, boolean ok, String errno, String message, JsonNode raw) {
        static NbdOutcome of(JsonNode line) {
            return new NbdOutcome(line.path("op").asText(), line.path("ok").asBoolean(),
                    line.path("errno").asText(null), line.path("message").asText(null), line);
        }
    }

    /** Skips the test unless the system python has the libnbd binding. */
    static void requireLibnbd() throws IOException, InterruptedException {
        assumeTrue(Tool.run(PYTHON, "-c", "import nbd").exit() == 0, "python3-libnbd is not installed");
    }

    /** The workload writes: each {@code -P PATTERN OFFSET LENGTH} (qemu-io's write syntax) in one qemu-io run. */
    static void write(String target, String... writes) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String w : writes) {
            command.add("-c");
            command.add("write " + w);
        }
        command.add(target);
        Tool result = Tool.run(command).ok();
        if (result.output().contains("failed")) {
            throw new AssertionError("qemu-io: " + result.output());
        }
    }

    /** fio's nbd engine on {@code uri}; it never saves a verify state file. */
    static Tool fio(String name, String uri, String... options) throws IOException, InterruptedException {
        return Tool.run(fioCommand(name, uri, options));
    }

    /**
     * fio started for the caller to end (SIGTERM stops it after a complete I/O, verified so far, and
     * it exits 128); its report goes to {@code report}.
     */
    static Process startFio(String name, String uri, Path report, String... options) throws IOException {
        List<String> command = fioCommand(name, uri, options);
        command.add("--output=" + report);
        return Tool.start(command);
    }

    private static List<String> fioCommand(String name, String uri, String... options) {
        List<String> command = new ArrayList<>(List.of("fio", "--name=" + name, "--ioengine=nbd", "--uri=" + uri,
                "--verify_state_save=0"));
        command.addAll(List.of(options));
        return command;
    }

    /** Copies a whole export into a raw file with nbdcopy (replacing the file); the file. */
    static Path copy(String uri, Path file) throws IOException, InterruptedException {
        Files.deleteIfExists(file);
        Tool.run("nbdcopy", uri, file.toString()).ok();
        return file;
    }

    /** {@code qemu-img compare} of two raw files or exports: exit 0 when equal, its output otherwise. */
    static Tool compare(Path a, Path b) throws IOException, InterruptedException {
        return Tool.run("qemu-img", "compare", "-f", "raw", "-F", "raw", a.toString(), b.toString());
    }

    /** Two raw files hold the same bytes; the message names the first differing offset. */
    static void assertSameBytes(Path expected, Path actual, String what) throws IOException {
        long at = Files.mismatch(expected, actual);
        if (at != -1) {
            throw new AssertionError(what + ": " + actual.getFileName() + " differs from " + expected.getFileName()
                    + " first at byte " + at + " (sizes " + Files.size(expected) + ", " + Files.size(actual) + ")");
        }
    }

    /** The extents {@code nbdinfo --map=CONTEXT} reports with bit 0 set (dirty, for a dirty bitmap). */
    static List<Extent> dirtyExtents(String uri, String context) throws IOException, InterruptedException {
        JsonNode map = RestClient.JSON.readTree(Tool.run("nbdinfo", "--map=" + context, "--json", uri).ok().output());
        List<Extent> dirty = new ArrayList<>();
        for (JsonNode e : map) {
            if ((e.get("type").asLong() & 1) != 0) {
                dirty.add(new Extent(e.get("offset").asLong(), e.get("length").asLong()));
            }
        }
        return dirty;
    }

    /** The export names {@code nbdinfo --list} shows. */
    static List<String> exports(String server) throws IOException, InterruptedException {
        JsonNode list = RestClient.JSON.readTree(Tool.run("nbdinfo", "--list", "--json", server).ok().output());
        List<String> names = new ArrayList<>();
        for (JsonNode e : list.get("exports")) {
            names.add(e.get("export-name").asText());
        }
        return names;
    }

    /** Runs libnbd operations on one connection to {@code uri} (meta context {@code context} when not null). */
    static List<NbdOutcome> libnbd(String uri, String context, String... ops) throws IOException, InterruptedException {
        try (LibnbdSession session = LibnbdSession.start(uri, context, ops)) {
            session.process.getOutputStream().close();
            List<NbdOutcome> all = new ArrayList<>();
            for (NbdOutcome o = session.next(); o != null; o = session.next()) {
                all.add(o);
            }
            int exit = session.process.waitFor();
            if (exit != 0) {
                throw new AssertionError("nbd_client.py " + List.of(ops) + " exit " + exit + ": " + all);
            }
            return all;
        }
    }

    /** The outcome of one libnbd operation on a connection of its own. */
    static NbdOutcome libnbd(String uri, String op) throws IOException, InterruptedException {
        return libnbd(uri, null, op).getFirst();
    }

    /**
     * An incremental backup read the way a backup program reads it: every extent that
     * {@code context} (a {@code qemu:dirty-bitmap:}) marks dirty, copied with libnbd into a sparse
     * raw file, with the list of extents beside it.
     */
    static Increment readIncrement(String uri, String context, Path raw) throws IOException, InterruptedException {
        Path listing = raw.resolveSibling(raw.getFileName() + ".list");
        NbdOutcome copied = libnbd(uri, context, "dirty:" + raw + ":" + listing).getFirst();
        if (!copied.ok()) {
            throw new AssertionError("reading the increment: " + copied);
        }
        return new Increment(raw, listing, copied.raw().path("dirtyBytes").asLong());
    }

    /** The dirty extents of an export, read into {@code raw} and listed in {@code listing}. */
    record Increment(Path raw, Path listing, long dirtyBytes) {
        List<Extent> extents() throws IOException {
            return Files.readAllLines(listing).stream().filter(l -> !l.isBlank()).map(l -> l.trim().split(" "))
                    .map(f -> new Extent(Long.parseLong(f[0]), Long.parseLong(f[1]))).toList();
        }

        /** Writes the extents over a restored image (a copy of the backup before), at their offsets. */
        void applyTo(Path restore) throws IOException {
            try (FileChannel in = FileChannel.open(raw);
                    FileChannel out = FileChannel.open(restore, StandardOpenOption.WRITE)) {
                for (Extent e : extents()) {
                    ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(e.length()));
                    while (buf.hasRemaining() && in.read(buf, e.offset() + buf.position()) >= 0) {
                        continue;
                    }
                    buf.flip();
                    while (buf.hasRemaining()) {
                        out.write(buf, e.offset() + buf.position());
                    }
                }
            }
        }
    }

    /** {@code nbd_client.py} running, for a test that reads its outcomes as they come and ends it. */
    static final class LibnbdSession implements AutoCloseable {
        private final Process process;
        private final BufferedReader out;

        private LibnbdSession(Process process) {
            this.process = process;
            this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        }

        static LibnbdSession start(String uri, String context, String... ops) throws IOException {
            List<String> command = new ArrayList<>(List.of(PYTHON, script().toString(), uri));
            if (context != null) {
                command.addAll(List.of("--context", context));
            }
            command.addAll(List.of(ops));
            return new LibnbdSession(Tool.start(command));
        }

        /** Starts a session whose last operation is {@code hold}, and returns once its requests are on the wire. */
        static LibnbdSession holding(String uri, String... ops) throws IOException {
            LibnbdSession session = start(uri, null, ops);
            for (NbdOutcome o = session.next(); o != null; o = session.next()) {
                if (!o.ok()) {
                    throw new AssertionError("before holding: " + o);
                }
                if (o.raw().has("holding")) {
                    return session;
                }
            }
            throw new AssertionError("the client ended before holding its requests");
        }

        /** The next outcome, or null when the client ended. */
        NbdOutcome next() throws IOException {
            String line = out.readLine();
            return line == null ? null : NbdOutcome.of(RestClient.JSON.readTree(line));
        }

        Process process() {
            return process;
        }

        /** SIGKILL, as a reader that dies. */
        void kill() throws InterruptedException {
            process.destroyForcibly().waitFor();
        }

        void waitFor() throws InterruptedException {
            process.waitFor();
        }

        @Override
        public void close() throws InterruptedException {
            if (process.isAlive()) {
                kill();
            }
        }
    }

    private static Path script() {
        try {
            return Path.of(NbdDriver.class.getResource("nbd_client.py").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
