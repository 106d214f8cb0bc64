package org.fleeced.it;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What a backup program and a workload do over NBD, each step one real client: qemu-io writes
 * (the workload), nbdcopy copies (a full backup), nbdinfo maps extents and lists exports,
 * libnbd through /usr/bin/python3 reads chosen extents and sends TRIM, qemu-img compares.
 */
final class NbdClients {
    private NbdClients() {
    }

    /** A byte range; in a dirty-bitmap map, one run of dirty clusters. */
    record Extent(long offset, long length) {
        long end() {
            return offset + length;
        }

        @Override
        public String toString() {
            return "[" + offset + ", +" + length + ")";
        }
    }

    /** Skips the test when a client this class drives is missing. */
    static void requireAll() {
        for (String tool : new String[] {"qemu-io", "qemu-img", "nbdinfo", "nbdcopy", "python3"}) {
            Tool.require(tool);
        }
    }

    /** The workload writes: each {@code write -P PATTERN OFFSET LENGTH} (qemu-io syntax) in one qemu-io run. */
    static void write(String uri, String... writes) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("qemu-io", "-f", "raw"));
        for (String w : writes) {
            command.add("-c");
            command.add("write " + w);
        }
        command.add(uri);
        Tool result = Tool.run(command).ok();
        if (result.output().contains("failed")) {
            throw new AssertionError("qemu-io: " + result.output());
        }
    }

    /** Copies a whole export into a raw file with nbdcopy. */
    static void copy(String uri, Path file) throws IOException, InterruptedException {
        Tool.run("nbdcopy", uri, file.toString()).ok();
    }

    /** Whether two raw files have the same content ({@code qemu-img compare}); its output otherwise. */
    static Tool compare(Path a, Path b) throws IOException, InterruptedException {
        return Tool.run("qemu-img", "compare", "-f", "raw", "-F", "raw", a.toString(), b.toString());
    }

    /** The extents {@code nbdinfo --map=CONTEXT} reports with bit 0 set (dirty, for a dirty bitmap). */
    static List<Extent> dirtyExtents(String uri, String context) throws IOException, InterruptedException {
        JsonNode map = RestClient.JSON.readTree(
                Tool.run("nbdinfo", "--map=" + context, "--json", uri).ok().output());
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

    /**
     * Reads {@code extents} of the export with libnbd and writes them at the same offsets into
     * {@code file}: applying an incremental backup to a full one.
     */
    static void applyExtents(String uri, List<Extent> extents, Path file) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("/usr/bin/python3", "-c", """
                import nbd, sys
                h = nbd.NBD()
                h.connect_uri(sys.argv[1])
                with open(sys.argv[2], 'r+b') as f:
                    for arg in sys.argv[3:]:
                        offset, length = map(int, arg.split(':'))
                        end = offset + length
                        while offset < end:
                            n = min(end - offset, 4 << 20)
                            f.seek(offset)
                            f.write(h.pread(n, offset))
                            offset += n
                h.shutdown()
                """, uri, file.toString()));
        for (Extent e : extents) {
            command.add(e.offset() + ":" + e.length());
        }
        Tool.run(command).ok();
    }

    /**
     * Sends requests with libnbd on one connection, each {@code "read:OFFSET:LENGTH"},
     * {@code "write:OFFSET:LENGTH"} or {@code "trim:OFFSET:LENGTH"}, and answers one outcome per
     * request, in order, after a first one for the export's flags. libnbd 1.14 does not put the
     * server's error message in {@code nbd.Error}; it logs it as "structured error server
     * message: ...", so the script reads it from libnbd's debug callback.
     */
    static List<NbdOutcome> requests(String uri, String... requests) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("/usr/bin/python3", "-c", """
                import json, nbd, sys
                messages = []
                h = nbd.NBD()
                h.set_debug(True)
                h.set_debug_callback(lambda context, msg: messages.append(msg))
                h.connect_uri(sys.argv[1])
                print(json.dumps({"request": "flags", "readOnly": h.is_read_only(), "canTrim": h.can_trim()}))
                for request in sys.argv[2:]:
                    kind, offset, length = request.split(':')
                    offset, length = int(offset), int(length)
                    del messages[:]
                    outcome = {"request": request, "errno": None, "error": None, "serverMessage": None}
                    try:
                        if kind == 'read':
                            h.pread(length, offset)
                        elif kind == 'write':
                            h.pwrite(b'\\x5a' * length, offset)
                        elif kind == 'trim':
                            h.trim(length, offset)
                    except nbd.Error as e:
                        outcome["errno"] = e.errno
                        outcome["error"] = e.string
                        marker = 'structured error server message: '
                        for m in messages:
                            if marker in m:
                                outcome["serverMessage"] = m.split(marker, 1)[1]
                    print(json.dumps(outcome))
                h.shutdown()
                """, uri));
        command.addAll(List.of(requests));
        Tool result = Tool.run(command).ok();
        List<NbdOutcome> outcomes = new ArrayList<>();
        for (String line : result.output().split("\n")) {
            if (line.startsWith("{")) {
                JsonNode o = RestClient.JSON.readTree(line);
                outcomes.add(new NbdOutcome(o.get("request").asText(), o.path("errno").asText(null),
                        o.path("error").asText(null), o.path("serverMessage").asText(null), o));
            }
        }
        if (outcomes.size() != requests.length + 1) {
            throw new AssertionError("libnbd script answered " + outcomes.size() + " lines for " + requests.length
                    + " requests: " + result.output());
        }
        return outcomes;
    }

    /** How one NBD request ended: errno null on success; the server's message when it sent one. */
    record NbdOutcome(String request, String errno, String error, String serverMessage, JsonNode raw) {
    }
}
