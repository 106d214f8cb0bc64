package org.fleeced.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs an installed client (nbdinfo, qemu-img, qemu-io, nbdcopy, nbdsh, fio, openssl) and captures
 * its exit code and output. Tests skip, not fail, when a tool is not installed. The system binary
 * directory comes first on PATH: Debian's nbdsh runs {@code python3 -m nbd}, which a pyenv python3
 * earlier on PATH cannot. Every tool runs in the JVM's temp directory, never in the module, so a
 * tool that drops files where it runs (fio's verify state) cannot leave them in the checkout.
 */
record Tool(int exit, String output) {
    static final String PATH = "/usr/bin:/bin:" + System.getenv().getOrDefault("PATH", "");
    private static final Path SCRATCH = Path.of(System.getProperty("java.io.tmpdir"));

    static void require(String... names) {
        for (String name : names) {
            assumeTrue(Files.isExecutable(Path.of("/usr/bin", name)), name + " is not installed");
        }
    }

    static Tool run(String... command) throws IOException, InterruptedException {
        return run(List.of(command));
    }

    static Tool run(List<String> command) throws IOException, InterruptedException {
        Process process = builder(command).redirectErrorStream(true).start();
        byte[] output = process.getInputStream().readAllBytes();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IOException(command + " did not finish");
        }
        return new Tool(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    }

    /** A started tool whose output the caller reads while it runs (stderr discarded). */
    static Process start(List<String> command) throws IOException {
        return builder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static ProcessBuilder builder(List<String> command) {
        ProcessBuilder builder = new ProcessBuilder(new ArrayList<>(command)).directory(SCRATCH.toFile());
        builder.environment().put("PATH", PATH);
        builder.environment().put("LIBNBD_DEBUG", "0");
        return builder;
    }

    Tool ok() {
        if (exit != 0) {
            throw new AssertionError("exit " + exit + ": " + output);
        }
        return this;
    }
}
