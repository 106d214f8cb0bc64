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
 * Runs an installed NBD client (nbdinfo, qemu-img, qemu-io, nbdcopy, nbdsh, fio) and captures its
 * exit code and output. Tests skip, not fail, when a tool is not installed. The system binary
 * directory comes first on PATH: Debian's nbdsh runs {@code python3 -m nbd}, which a pyenv python3
 * earlier on PATH cannot.
 */
record Tool(int exit, String output) {
    static final String PATH = "/usr/bin:/bin:" + System.getenv().getOrDefault("PATH", "");

    static void require(String name) {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin", name)), name + " is not installed");
    }

    static Tool run(String... command) throws IOException, InterruptedException {
        return run(List.of(command));
    }

    static Tool run(List<String> command) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true);
        builder.environment().put("PATH", PATH);
        builder.environment().put("LIBNBD_DEBUG", "0");
        Process process = builder.start();
        byte[] output = process.getInputStream().readAllBytes();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IOException(command + " did not finish");
        }
        return new Tool(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    }

    Tool ok() {
        if (exit != 0) {
            throw new AssertionError("exit " + exit + ": " + output);
        }
        return this;
    }
}
