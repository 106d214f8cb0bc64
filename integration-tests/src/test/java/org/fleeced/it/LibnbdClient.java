package org.fleeced.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The scripted libnbd client {@code nbd_client.py} (a test resource; its docstring lists the
 * operations) run by the system python, which has the libnbd binding. Each operation answers one
 * JSON line: ok, or the errno and the server's structured error message.
 */
final class LibnbdClient {
    private static final String PYTHON = "/usr/bin/python3";

    private LibnbdClient() {
    }

    static void require() throws IOException, InterruptedException {
        assumeTrue(Tool.run(PYTHON, "-c", "import nbd").exit() == 0, "python3-libnbd is not installed");
    }

    /** Runs {@code ops} on one connection to {@code uri} (with meta context {@code context} when not null). */
    static List<JsonNode> run(String uri, String context, String... ops) throws IOException, InterruptedException {
        Process p = start(uri, context, ops);
        p.getOutputStream().close();
        List<JsonNode> answers = answers(p);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("nbd_client.py " + List.of(ops) + " did not finish");
        }
        if (p.exitValue() != 0) {
            throw new AssertionError("nbd_client.py exit " + p.exitValue() + ": " + answers);
        }
        return answers;
    }

    /** The one answer of a single operation. */
    static JsonNode one(String uri, String op) throws IOException, InterruptedException {
        return run(uri, null, op).getFirst();
    }

    /** Starts the client; the caller reads its JSON lines (see {@link #next}) and ends it. */
    static Process start(String uri, String context, String... ops) throws IOException {
        List<String> command = new ArrayList<>(List.of(PYTHON, script().toString(), uri));
        if (context != null) {
            command.addAll(List.of("--context", context));
        }
        command.addAll(List.of(ops));
        ProcessBuilder builder = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD);
        builder.environment().put("PATH", Tool.PATH);
        return builder.start();
    }

    /** Every JSON line the process writes until it closes stdout. */
    static List<JsonNode> answers(Process p) throws IOException {
        List<JsonNode> all = new ArrayList<>();
        BufferedReader out = reader(p);
        for (String line = out.readLine(); line != null; line = out.readLine()) {
            all.add(ScenarioRest.JSON.readTree(line));
        }
        return all;
    }

    /** The next JSON line, or null at the end. */
    static JsonNode next(BufferedReader out) throws IOException {
        String line = out.readLine();
        return line == null ? null : ScenarioRest.JSON.readTree(line);
    }

    static BufferedReader reader(Process p) {
        return new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    }

    private static Path script() {
        try {
            return Path.of(LibnbdClient.class.getResource("nbd_client.py").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
