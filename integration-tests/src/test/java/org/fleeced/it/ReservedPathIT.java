package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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
class ReservedPathIT {
    private static final long DISK = 4 << 20;

    @TempDir
    Path dir;

    @Test
    void sidecarsAndImagesInUseAreRefusedAndBackingImagesShared() throws Exception {
        Tool.require("qemu-img");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            rest.createDisk("q1", daemon.images().resolve("q1.qcow2"), DISK);
            Path intent = daemon.images().resolve("q1.qcow2.fleeced-intent");
            assertTrue(Files.exists(intent), "q1 keeps its intent log beside the image");

            RestClient.Problem sidecar = attach(rest, "p", intent, "raw").expect(403).problem();
            assertEquals("RESERVED_PATH", sidecar.reason(), sidecar.toString());
            assertTrue(sidecar.detail().contains("sidecar"), sidecar.toString());

            Path image = daemon.images().resolve("q1.qcow2");
            Path hardLink = Files.createLink(daemon.images().resolve("hard.qcow2"), image);
            Path symlink = Files.createSymbolicLink(daemon.images().resolve("soft.qcow2"), image);
            for (Path name : List.of(hardLink, symlink)) {
                RestClient.Problem inUse = attach(rest, "p", name, "qcow2").expect(409).problem();
                assertEquals("IMAGE_IN_USE", inUse.reason(), inUse.toString());
                assertTrue(inUse.detail().contains("'q1'"), inUse.toString());
            }

            Path base = daemon.images().resolve("base.qcow2");
            Tool.run("qemu-img", "create", "-q", "-f", "qcow2", base.toString(), Long.toString(DISK)).ok();
            for (String overlay : List.of("o1", "o2")) {
                Path path = daemon.images().resolve(overlay + ".qcow2");
                Tool.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base.toString(), "-F", "qcow2",
                        path.toString()).ok();
                attach(rest, overlay, path, "qcow2").expect(201);
            }

            rest.delete("v1/disks/q1").expect(204);
            assertFalse(Files.exists(intent), "a clean detach removes the intent log");
            assertTrue(daemon.alive());
        }
    }

    private static RestClient.Reply attach(RestClient rest, String name, Path path, String format)
            throws Exception {
        return rest.post("v1/disks", Map.of("name", name, "path", path.toString(), "format", format));
    }
}
