package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #13, point 3: fleeced's own files and the image another disk writes cannot be attached.
 * The hole as found: attaching a disk's intent log as a raw disk gave a writable export of the
 * file recovery trusts. Now that is 403 {@code RESERVED_PATH}; the image a disk has open
 * writable is 409 {@code IMAGE_IN_USE} under any name (hard or symbolic link); a backing image
 * read by two overlays stays shareable.
 *
 * <pre>
 *   images/q1.qcow2 ◀── disk q1 (writable)
 *     ├─ q1.qcow2.fleeced-intent   attach "p" → 403 RESERVED_PATH
 *     ├─ hard.qcow2 (hard link)    attach "p" → 409 IMAGE_IN_USE naming q1
 *     └─ soft.qcow2 (symlink)      attach "p" → 409 IMAGE_IN_USE naming q1
 *   images/base.qcow2 ◀── o1.qcow2, o2.qcow2 (overlays) → both 201
 * </pre>
 */
class ReservedPathScenarioIT {
    private static final long DISK = 4 << 20;

    @TempDir
    Path dir;

    @Test
    void sidecarsAndImagesInUseAreRefusedAndBackingImagesShared() throws Exception {
        Tool.require("qemu-img");
        try (ScenarioDaemon daemon = ScenarioDaemon.start(dir.resolve("daemon"))) {
            ScenarioRest rest = daemon.rest();
            rest.create("q1", daemon.image("q1.qcow2"), DISK);
            Path intent = daemon.images().resolve("q1.qcow2.fleeced-intent");
            assertTrue(Files.exists(intent), "q1 keeps its intent log beside the image");

            ScenarioRest.Answer sidecar = attach(rest, "p", intent, "raw").expect(403);
            assertEquals("RESERVED_PATH", sidecar.body().path("reason").asText(), sidecar.raw());
            assertTrue(sidecar.body().path("detail").asText().contains("sidecar"), sidecar.raw());

            Path image = daemon.images().resolve("q1.qcow2");
            Path hardLink = Files.createLink(daemon.images().resolve("hard.qcow2"), image);
            Path symlink = Files.createSymbolicLink(daemon.images().resolve("soft.qcow2"), image);
            for (Path name : List.of(hardLink, symlink)) {
                ScenarioRest.Answer inUse = attach(rest, "p", name, "qcow2").expect(409);
                assertEquals("IMAGE_IN_USE", inUse.body().path("reason").asText(), inUse.raw());
                assertTrue(inUse.body().path("detail").asText().contains("'q1'"), inUse.raw());
            }

            Path base = daemon.images().resolve("base.qcow2");
            Tool.run("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), Long.toString(DISK)).ok();
            for (String overlay : List.of("o1", "o2")) {
                Path path = daemon.images().resolve(overlay + ".qcow2");
                Tool.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2",
                        path.toString()).ok();
                attach(rest, overlay, path, "qcow2").expect(201);
            }

            rest.send(HttpRequest.newBuilder(URI.create(rest.base() + "/v1/disks/q1")).DELETE()).expect(204);
            assertFalse(Files.exists(intent), "a clean detach removes the intent log");
            assertTrue(daemon.alive());
        }
    }

    private static ScenarioRest.Answer attach(ScenarioRest rest, String name, Path path, String format)
            throws Exception {
        ObjectNode body = ScenarioRest.JSON.createObjectNode().put("name", name).put("path", path.toString())
                .put("format", format);
        return rest.post("/v1/disks", body);
    }
}
