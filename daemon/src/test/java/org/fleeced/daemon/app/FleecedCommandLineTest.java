package org.fleeced.daemon.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The command line's contract with people and scripts: every command has help with examples,
 * a mistake is one line (never a stack trace or a page of usage) with exit status 2, and a daemon
 * that does not answer is exit status 3.
 */
class FleecedCommandLineTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine line = FleecedCommandLine.create();
        line.setOut(new PrintWriter(out, true));
        line.setErr(new PrintWriter(err, true));
        return line.execute(args);
    }

    @Test
    void everyCommandHasHelpWithExamples() {
        CommandLine line = FleecedCommandLine.create();
        for (String name : List.of("daemon", "serve", "checksum", "disks", "disk", "attach", "detach", "checkpoints", "backup", "restore", "jobs", "job",
                "finish", "events")) {
            out.getBuffer().setLength(0);
            assertEquals(0, run(name, "--help"), name);
            assertTrue(out.toString().contains("Examples:"), name + " --help:\n" + out);
        }
        assertEquals(0, run("--help"));
        assertTrue(out.toString().contains("checkpoints"), out.toString());
        assertFalse(out.toString().contains("aot-training"), "the training run stays hidden");
        assertTrue(line.getSubcommands().containsKey("aot-training"));
    }

    @Test
    void aCompletionScriptCoversEveryCommand() {
        assertEquals(0, run("generate-completion"));
        for (String name : List.of("daemon", "serve", "backup", "restore", "checkpoints", "finish")) {
            assertTrue(out.toString().contains(name), "completion for " + name);
        }
    }

    @Test
    void aBadOptionOrNumberIsOneLineAndExitStatusTwo() {
        assertEquals(2, run("daemon", "--rest-port", "eighty"));
        assertEquals(1, err.toString().strip().lines().count(), err.toString());
        assertTrue(err.toString().contains("--rest-port") && err.toString().contains("eighty"), err.toString());

        err.getBuffer().setLength(0);
        assertEquals(2, run("serve", "disk.img", "--frobnicate"));
        assertEquals(1, err.toString().strip().lines().count(), err.toString());
        assertTrue(err.toString().contains("--frobnicate"), err.toString());

        assertEquals(2, run("serve", "disk.img", "--port", "70000"), "checked after parsing: logged as the daemon logs");

        err.getBuffer().setLength(0);
        assertEquals(2, run("finish", "some-job", "maybe"));
        assertEquals(1, err.toString().strip().lines().count(), err.toString());
    }

    @Test
    void clientOptionsGoAnywhereAndAnAbsentDaemonIsExitStatusThree() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        String url = "http://127.0.0.1:" + port;
        assertEquals(3, run("--url", url, "disks"));
        assertEquals("fleeced disks: no daemon answers at " + url + "/ (is it running? see --url)", err.toString().strip());
        err.getBuffer().setLength(0);
        assertEquals(3, run("jobs", "--url", url, "--json"));
        assertTrue(err.toString().startsWith("fleeced jobs: no daemon answers"), err.toString());
    }
}
