package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon starts, says where it listens, answers /health, and stops cleanly on SIGTERM. */
class DaemonLifecycleIT {
    @TempDir
    Path dir;

    @Test
    void answersHealthAndStopsCleanlyOnSigterm() throws Exception {
        int port = DaemonProcess.freePort();
        HttpClient http = HttpClient.newHttpClient();
        try (DaemonProcess daemon = DaemonProcess.start(dir, "daemon", "--rest-port", String.valueOf(port))) {
            await().atMost(Duration.ofSeconds(30)).until(() -> daemon.log().contains("REST listening on"));
            assertTrue(daemon.log().contains("http://127.0.0.1:" + port), daemon.log());
            HttpRequest get = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build();
            // 503 "starting" until the start is done (no disks here, so briefly)
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> http.send(get, HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
            HttpResponse<String> health = http.send(get, HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode());
            assertTrue(health.body().contains("\"status\":\"ok\""), health.body());

            assertEquals(0, daemon.terminate(), daemon.log());
            assertTrue(daemon.log().contains("stopped cleanly"), daemon.log());
        }
    }
}
