package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon starts, says where it listens, answers /health, and stops cleanly on SIGTERM. The
 * command line's {@code --rest-port} overrides the configuration: the configured port is held by
 * the test, so the daemon starts only if the option wins.
 */
class DaemonLifecycleIT {
    @TempDir
    Path dir;

    @Test
    void answersHealthAndStopsCleanlyOnSigterm() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                DaemonUnderTest daemon = DaemonUnderTest.in(dir)
                        .config("rest", "{bind: 127.0.0.1, port: " + taken.getLocalPort() + "}")
                        .arguments("--rest-port", "0").start()) {
            assertTrue(daemon.log().contains("REST listening on http://127.0.0.1:"), daemon.log());
            RestClient.Reply health = daemon.rest().withToken(null).get("health");
            assertEquals(200, health.status(), "/health at the address the log gives: " + health);
            assertTrue(health.body().contains("\"status\":\"ok\""), health.body());

            assertEquals(0, daemon.stop(), daemon.log());
            assertTrue(daemon.log().contains("stopped cleanly"), daemon.log());
        }
    }
}
