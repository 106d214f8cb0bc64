package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.fleeced.bitmaps.ByteRange;

/** Runs qemu-img, qemu-nbd and nbdinfo for the interop tests; tests skip where a tool is missing. */
final class ExternalTools {
    /** Exit code and combined output of one run. */
    record Result(int exitCode, String output) {
    }

    private ExternalTools() {
    }

    static void assume(String... tools) {
        for (String tool : tools) {
            assumeTrue(installed(tool), tool + " is not installed");
        }
    }

    static boolean installed(String tool) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, tool))) {
                return true;
            }
        }
        return false;
    }

    static Result run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", command));
        }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    static String ok(String... command) throws IOException, InterruptedException {
        Result r = run(command);
        if (r.exitCode() != 0) {
            throw new AssertionError(String.join(" ", command) + " exited " + r.exitCode() + ":\n" + r.output());
        }
        return r.output();
    }

    /**
     * The dirty ranges of a bitmap as QEMU exports it: nbdinfo --map over a read-only qemu-nbd
     * started by nbdinfo itself (socket activation, so no port is needed).
     */
    static List<ByteRange> qemuDirtyMap(Path image, String bitmap) throws IOException, InterruptedException {
        String out = ok("nbdinfo", "--map=qemu:dirty-bitmap:" + bitmap, "--", "[", "qemu-nbd", "-r", "-f", "qcow2",
                "-B", bitmap, image.toString(), "]");
        List<ByteRange> dirty = new ArrayList<>();
        for (String line : out.strip().split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length >= 3 && f[2].equals("1")) {
                dirty.add(new ByteRange(Long.parseLong(f[0]), Long.parseLong(f[1])));
            }
        }
        return dirty;
    }
}
