package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #13, point 4: NBD memory is bounded by configuration, not by clients. 90 connections (below
 * the default limit of 100, so a normal client still fits) each announce a 32 MiB WRITE and send
 * one payload byte, against a daemon with a 256 MiB heap. Before, each header allocated its whole
 * payload (2.8 GiB in all); now each holds the one byte it sent. A normal client reads and writes
 * while they hang and after, and the request timeout closes every one of them.
 *
 * <pre>
 *   90 x RawNbdConnection --(WRITE header, length 32 MiB, + 1 byte, then silence)--> fleeced -Xmx256m
 *   qemu-io ---------------(write + read back 1 MiB, during and after)----------------> export "vm"
 * </pre>
 */
class NbdMemoryBoundIT {
    private static final int HOLDERS = 90;
    private static final int ANNOUNCED = 32 << 20;
    private static final int REQUEST_TIMEOUT_SECONDS = 15;

    @TempDir
    Path dir;

    @Test
    void ninetyClientsAnnouncing32MiBEachDoNotExhaustA256MiBHeapAndAreDroppedByTheRequestTimeout() throws Exception {
        Tool.require("qemu-io");
        try (DaemonUnderTest daemon = DaemonUnderTest.in(dir).env("FLEECED_JAVA_OPTS", "-Xmx256m")
                .config("nbd", "{bind: 127.0.0.1, port: 0, socket: nbd.sock, requestTimeoutSeconds: "
                        + REQUEST_TIMEOUT_SECONDS + "}")
                .start()) {
            daemon.attachNewQcow2("vm", 64 << 20);
            List<RawNbdConnection> holders = new ArrayList<>();
            try {
                for (int i = 0; i < HOLDERS; i++) {
                    RawNbdConnection holder = RawNbdConnection.open(daemon.nbdPort(), "vm");
                    holder.socket.setSoTimeout(0);
                    holder.out.write(RawNbdConnection.request(RawNbdConnection.CMD_WRITE, i, 0, ANNOUNCED));
                    holder.out.write(0x42);
                    holder.out.flush();
                    holders.add(holder);
                }
                writeAndReadBack(daemon, 0x5a, "1M");

                for (RawNbdConnection holder : holders) {
                    assertEquals(-1, holder.in.read(), "the server closes a connection stalled mid-request");
                }
                writeAndReadBack(daemon, 0x6b, "3M");
            } finally {
                for (RawNbdConnection holder : holders) {
                    holder.close();
                }
            }
            String log = daemon.log();
            assertFalse(log.contains("OutOfMemoryError"), log);
            List<String> dropped = log.lines().filter(line -> line.contains("request incomplete after")).toList();
            assertEquals(HOLDERS, dropped.size(), log);
            assertTrue(dropped.stream().allMatch(line -> line.contains("export 'vm'") && line.contains("of 127.0.0.1:")),
                    dropped.getFirst());
            int normalClientOpened = nthOpen(log, HOLDERS + 1);
            assertTrue(normalClientOpened >= 0 && normalClientOpened < log.indexOf("request incomplete after"),
                    "the normal client was served while the 90 connections were held: " + log);
        }
    }

    /** qemu-io writes a pattern over NBD and reads it back, verifying it. */
    private static void writeAndReadBack(DaemonUnderTest daemon, int pattern, String offset) throws Exception {
        String output = Tool.run("qemu-io", "-f", "raw", "-c", "write -P " + pattern + " " + offset + " 1M",
                "-c", "read -P " + pattern + " " + offset + " 1M", daemon.nbdUri("vm")).ok().output();
        assertFalse(output.contains("Pattern verification failed"), output);
    }

    /** Where the {@code n}th "opened export 'vm'" line starts (1-based). */
    private static int nthOpen(String log, int n) {
        int at = -1;
        for (int i = 0; i < n; i++) {
            at = log.indexOf("opened export 'vm'", at + 1);
        }
        return at;
    }
}
