package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's walkthroughs, {@code integration-tests/src/test/resources/walkthrough.sh},
 * {@code push-walkthrough.sh} and {@code restore-walkthrough.sh}, run as they stand from the top
 * of the checkout (the README includes each file verbatim): one full and one incremental pull
 * backup with curl, qemu-io, nbdcopy and nbdsh; a full and two incremental push backups restored
 * with qemu-img; an instant restore of a push backup, used while it streams in; each in under
 * five minutes. Only the ports are chosen by the test, through the script's REST and NBD
 * variables, and its mktemp directory goes under the test's TMPDIR.
 *
 * <p>The script takes fixed ports, as a reader would, so this is the one test that picks ports
 * before the daemon binds them. It picks them below the kernel's ephemeral range, where no
 * connecting client and no daemon binding port 0 (every other test) is handed a port meanwhile.
 */
class ReadmeWalkthroughIT {
    private static final Duration LIMIT = Duration.ofMinutes(5);

    @TempDir
    Path tmp;

    @Test
    void theWalkthroughBacksUpInFullThenIncrementally() throws Exception {
        Tool.require("curl", "jq", "qemu-io", "qemu-img", "nbdcopy", "nbdsh");
        NbdDriver.requireLibnbd();
        String output = runAsTheReadmeShowsIt("walkthrough.sh");
        assertTrue(output.contains("\"mode\":\"incremental\""), output);
        assertTrue(output.contains("incremental: 1048576 bytes in 1 extents"), "only the changed MiB is read: " + output);
        assertTrue(output.contains("Images are identical."), output);
        assertTrue(output.contains("daemon stopped"), output);
    }

    /** The push-mode walkthrough: a full and two incremental pushes into a qcow2 chain, restored with qemu-img. */
    @Test
    void thePushWalkthroughWritesAChainThatRestoresToTheDisk() throws Exception {
        Tool.require("curl", "jq", "qemu-io", "qemu-img");
        String output = runAsTheReadmeShowsIt("push-walkthrough.sh");
        assertEquals(3, output.split("\"state\":\"finished\"", -1).length - 1, "three pushes finished: " + output);
        assertEquals(2, output.split("\"mode\":\"incremental\"", -1).length - 1, output);
        assertTrue(output.contains("backing file: vm1.c2.qcow2") && output.contains("backing file: vm1.c1.qcow2"),
                "each file names the previous one: " + output);
        for (String f : new String[] {"vm1.c1.qcow2", "vm1.c2.qcow2", "vm1.c3.qcow2"}) {
            assertTrue(output.contains(f + ": no errors"), "qemu-img check " + f + ": " + output);
        }
        assertTrue(output.contains("Images are identical."), output);
        assertTrue(output.contains("daemon stopped"), output);
    }

    /** The instant-restore walkthrough: a disk restored from a push backup, used while it streams in. */
    @Test
    void theRestoreWalkthroughEndsWithADiskEqualToTheBackup() throws Exception {
        Tool.require("curl", "jq", "qemu-io", "qemu-img");
        String output = runAsTheReadmeShowsIt("restore-walkthrough.sh");
        assertTrue(output.contains("\"state\":\"running\""), "vm2 restores after the POST: " + output);
        assertTrue(!output.contains("failed") && !output.contains("error"), output);
        assertTrue(output.contains("{\"bytesPerSecond\":0,\"inFlight\":4}"), "the PATCHed limits: " + output);
        assertTrue(output.contains("\"state\":\"complete\""), output);
        assertTrue(output.contains("no backing file"), output);
        assertTrue(output.contains("Images are identical."), output);
        assertTrue(output.contains("daemon stopped"), output);
    }

    /**
     * Runs {@code integration-tests/src/test/resources/SCRIPT} from the top of the checkout, after
     * checking the README carries it verbatim; its output, once it exited 0 in under five minutes.
     */
    private String runAsTheReadmeShowsIt(String name) throws Exception {
        Path top = FleecedProcess.checkout();
        Path script = top.resolve("integration-tests/src/test/resources/" + name);
        assertTrue(Files.isRegularFile(script), script.toString());
        assertTrue(Files.readString(top.resolve("README.md")).contains("```bash\n" + Files.readString(script) + "```"),
                "README.md carries " + name + " verbatim");

        ProcessBuilder builder = new ProcessBuilder("bash", script.toString()).directory(top.toFile())
                .redirectErrorStream(true);
        int rest = unusedPortBelowTheEphemeralRange();
        int nbd = unusedPortBelowTheEphemeralRange();
        while (nbd == rest) {
            nbd = unusedPortBelowTheEphemeralRange();
        }
        builder.environment().put("REST", String.valueOf(rest));
        builder.environment().put("TMPDIR", tmp.toString());
        builder.environment().put("NBD", String.valueOf(nbd));
        long start = System.nanoTime();
        Process p = builder.start();
        byte[] out = p.getInputStream().readAllBytes();
        boolean ended = p.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        String output = new String(out, StandardCharsets.UTF_8);
        if (!ended) {
            p.destroyForcibly();
        }
        assertTrue(ended && took.compareTo(LIMIT) < 0, name + " takes under 5 minutes: " + took + "\n" + output);
        assertEquals(0, p.exitValue(), output);
        return output;
    }

    /** A port in [10000, first ephemeral port) that nothing listens on now. */
    private static int unusedPortBelowTheEphemeralRange() throws IOException {
        // readAllLines, not readString: the JDK trusts the size /proc reports and reads a truncated file
        String range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).getFirst().trim();
        int firstEphemeral = Integer.parseInt(range.split("\\s+")[0]);
        while (true) {
            int port = ThreadLocalRandom.current().nextInt(10_000, firstEphemeral);
            try (ServerSocket probe = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                return probe.getLocalPort();
            } catch (BindException inUse) {
                // taken: another one
            }
        }
    }
}
