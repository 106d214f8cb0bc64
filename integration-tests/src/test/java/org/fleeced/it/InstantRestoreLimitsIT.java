package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An instant restore's {@code restoreLimits} (#17): shown in GET, changed by PATCH while the disk
 * restores, remembered in disks.json, and in force again after a restart.
 *
 * <pre>
 *   POST restoreLimits {64 KiB/s} ─▶ PATCH {inFlight 2} ─▶ SIGTERM, start ─▶ still {64 KiB/s, 2}
 *        ─▶ PATCH {bytesPerSecond 0} ─▶ complete ─▶ PATCH refused: nothing to restore
 * </pre>
 */
class InstantRestoreLimitsIT {
    @TempDir
    Path dir;

    @Test
    void restoreLimitsAreChangeableAndRememberedAcrossARestart() throws Exception {
        Tool.require("qemu-img", "qemu-io");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            Path incr = InstantRestoreIT.backupChain(daemon);
            JsonNode created = InstantRestoreIT.createRestoring(daemon, Map.of("path", incr.toString(), "format", "qcow2"), 64 << 10);
            assertLimits(created, 64 << 10, 4);

            assertLimits(patch(daemon, Map.of("inFlight", 2)).expect(200).json(), 64 << 10, 2);
            RestClient.Problem zero = patch(daemon, Map.of("inFlight", 0)).expect(400).problem();
            assertTrue(zero.detail().contains("inFlight"), zero.toString());
            RestClient.Problem negative = patch(daemon, Map.of("bytesPerSecond", -1)).expect(400).problem();
            assertTrue(negative.detail().contains("bytesPerSecond"), negative.toString());
            assertLimits(daemon.rest().disk("vm"), 64 << 10, 2);
            String remembered = Files.readString(daemon.dir().resolve("state/disks.json"));
            assertTrue(remembered.contains("\"inFlight\" : 2"), remembered);

            assertEquals(0, daemon.stop());
            daemon.restart();
            JsonNode resumed = daemon.rest().disk("vm");
            assertEquals("running", resumed.path("restore").path("state").asText(), resumed.toString());
            assertLimits(resumed, 64 << 10, 2);

            assertLimits(patch(daemon, Map.of("bytesPerSecond", 0)).expect(200).json(), 0, 2);
            InstantRestoreIT.awaitComplete(daemon);
            RestClient.Problem over = patch(daemon, Map.of("inFlight", 8)).expect(400).problem();
            assertEquals("INVALID_REQUEST", over.reason(), over.toString());
            assertTrue(over.detail().contains("not being restored"), over.toString());
        }
    }

    private static RestClient.Reply patch(DaemonUnderTest daemon, Map<String, Object> limits) throws Exception {
        return daemon.rest().patch("v1/disks/vm", Map.of("restoreLimits", limits));
    }

    private static void assertLimits(JsonNode disk, long bytesPerSecond, int inFlight) {
        JsonNode limits = disk.path("restore").path("limits");
        assertEquals(bytesPerSecond, limits.path("bytesPerSecond").asLong(), disk.toString());
        assertEquals(inFlight, limits.path("inFlight").asInt(), disk.toString());
    }
}
