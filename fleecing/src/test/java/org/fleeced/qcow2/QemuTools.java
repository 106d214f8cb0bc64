package org.fleeced.qcow2;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs qemu-img and qemu-io for tests; tests that need them are skipped where they are not installed. */
final class QemuTools {
    /** The outcome of one tool run: exit code and combined output. */
    record Result(int exitCode, String output) {
    }

    private QemuTools() {
    }

    static boolean installed(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    static void assumeQemuImg() {
        assumeTrue(installed("qemu-img"), "qemu-img is not installed");
    }

    static void assumeQemuIo() {
        assumeTrue(installed("qemu-io"), "qemu-io is not installed");
    }

    static Result run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", command));
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    /** Runs and asserts exit 0. */
    static String ok(String... command) throws IOException, InterruptedException {
        Result r = run(command);
        assertEquals(0, r.exitCode(), String.join(" ", command) + " failed:\n" + r.output());
        return r.output();
    }

    /** qemu-io with several -c commands on one image. */
    static String qemuIo(Path image, String format, String... commands) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", format));
        for (String c : commands) {
            cmd.add("-c");
            cmd.add(c);
        }
        cmd.add(image.toString());
        return ok(cmd.toArray(String[]::new));
    }

    /** Asserts that qemu-img check finds no errors and no leaks. */
    static void assertCheckClean(Path image) throws IOException, InterruptedException {
        Result r = run("qemu-img", "check", "-f", "qcow2", image.toString());
        assertEquals(0, r.exitCode(), "qemu-img check " + image + ":\n" + r.output());
    }

    /** Asserts qemu-img compare finds the images equal in content. */
    static void assertSameContent(Path qcow2, Path raw) throws IOException, InterruptedException {
        Result r = run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", qcow2.toString(), raw.toString());
        assertEquals(0, r.exitCode(), "qemu-img compare:\n" + r.output());
    }
}
