package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #13, points 5 and 6: a configuration that cannot run safely, or a port another process
 * holds, stops the daemon at start with one log line that says why and a non-zero exit, never a
 * stack trace. A non-loopback NBD address without TLS is refused unless {@code nbd.allowInsecure}
 * says the operator accepts it, and then every start warns.
 *
 * <pre>
 *   row                               config                                   outcome
 *   NBD on 0.0.0.0 without TLS        nbd.bind: 0.0.0.0                        refused: names nbd.tls and nbd.allowInsecure
 *   NBD on 0.0.0.0, allowInsecure     nbd.bind: 0.0.0.0, allowInsecure: true   starts, warns at each start
 *   REST port in use                  rest.port: a port this test holds        refused: names REST and the port
 *   NBD port in use                   nbd.port: a port this test holds         refused: names NBD and the port
 * </pre>
 */
class StartupRefusalIT {
    @TempDir
    Path dir;

    @Test
    void aPublicNbdAddressWithoutTlsIsRefusedWithOneLine() throws Exception {
        String log = refusedWith(DaemonUnderTest.in(dir).config("nbd", "{bind: 0.0.0.0, port: 0}"));
        assertTrue(log.contains("nbd.bind is 0.0.0.0, not a loopback address") && log.contains("nbd.allowInsecure"), log);
    }

    @Test
    void aPublicNbdAddressWithAllowInsecureStartsAndWarnsAtEveryStart() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.in(dir)
                .config("nbd", "{bind: 0.0.0.0, port: 0, allowInsecure: true}").start()) {
            for (int start = 1; start <= 2; start++) {
                if (start > 1) {
                    daemon.restart();
                }
                assertTrue(daemon.alive(), daemon.log());
                await().atMost(Duration.ofSeconds(60)).until(() -> daemon.log().contains("nbd.allowInsecure is set"));
                assertTrue(daemon.log().lines().anyMatch(line -> line.contains("WARN")
                        && line.contains("without TLS") && line.contains("0.0.0.0")), daemon.log());
                assertEquals(0, daemon.stop(), daemon.log());
            }
        }
    }

    @Test
    void aRestPortInUseIsOneLineNamingThePort() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String log = refusedWith(DaemonUnderTest.in(dir)
                    .config("rest", "{bind: 127.0.0.1, port: " + taken.getLocalPort() + "}"));
            assertTrue(log.contains("cannot listen for REST on 127.0.0.1:" + taken.getLocalPort()), log);
        }
    }

    @Test
    void anNbdPortInUseIsOneLineNamingThePort() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            String log = refusedWith(DaemonUnderTest.in(dir)
                    .config("nbd", "{bind: 127.0.0.1, port: " + taken.getLocalPort() + "}"));
            assertTrue(log.contains("cannot listen for NBD on 127.0.0.1:" + taken.getLocalPort()), log);
        }
    }

    /** Starts the daemon; it must exit non-zero with exactly one error line and no stack trace. That line. */
    private static String refusedWith(DaemonUnderTest.Builder daemon) throws Exception {
        DaemonUnderTest.Exit exit = daemon.startRefused();
        String log = exit.log();
        assertNotEquals(0, exit.code(), log);
        List<String> errors = log.lines().filter(line -> line.contains(" ERROR ")).toList();
        assertEquals(1, errors.size(), log);
        assertFalse(log.lines().anyMatch(line -> line.startsWith("\tat ") || line.startsWith("Caused by")), log);
        return errors.getFirst();
    }
}
