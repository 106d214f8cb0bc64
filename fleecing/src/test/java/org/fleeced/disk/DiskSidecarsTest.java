package org.fleeced.disk;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class DiskSidecarsTest {
    @Test
    void everySidecarOfAnImageIsNamedAsOne() {
        Path image = Path.of("/images/vm1.qcow2");
        assertTrue(DiskSidecars.of(image).contains(Path.of("/images/vm1.qcow2.fleeced-journal")));
        assertTrue(DiskSidecars.of(image).contains(Path.of("/images/vm1.qcow2.fleeced-intent")));
        assertTrue(DiskSidecars.of(Path.of("/images/vm1.raw")).contains(Path.of("/images/vm1.raw.fleeced-bitmaps")),
                "a raw image's checkpoints are a sidecar too");
        for (Path p : DiskSidecars.of(image)) {
            assertTrue(DiskSidecars.isSidecarName(p), p.toString());
            assertTrue(p.getParent().equals(image.getParent()), p.toString());
        }
        assertFalse(DiskSidecars.isSidecarName(image));
    }
}
