package org.fleeced.daemon.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AllowedPathsTest {
    @TempDir
    Path dir;

    @Test
    void pathsInsideARootAreAcceptedAndEverythingElseRefused() throws Exception {
        Path images = Files.createDirectories(dir.resolve("images"));
        Files.createDirectories(dir.resolve("secret"));
        Files.writeString(dir.resolve("secret/key"), "x");
        Files.writeString(images.resolve("vm1.qcow2"), "x");
        Files.createSymbolicLink(images.resolve("escape"), dir.resolve("secret/key"));
        AllowedPaths allowed = new AllowedPaths("image", List.of(images));

        assertEquals(images.toRealPath().resolve("vm1.qcow2"), allowed.check(images + "/vm1.qcow2"));
        assertEquals(images.toRealPath().resolve("new.qcow2"), allowed.check(images + "/new.qcow2"));
        String[] refused = {
            images + "/../secret/key",
            images + "/escape",
            images.toString(),
            "relative.qcow2",
            "",
            images + "/a\0b",
            "/etc/passwd",
            images + "/nodir/x.qcow2",
        };
        for (String path : refused) {
            AllowedPaths.PathRefused e = assertThrows(AllowedPaths.PathRefused.class, () -> allowed.check(path), path);
            assertTrue(e.getMessage().length() > 10, e.getMessage());
        }
    }

    @Test
    void directoriesAreTheRootsOrInsideThem() throws Exception {
        Path temp = Files.createDirectories(dir.resolve("tmp"));
        Files.createDirectories(temp.resolve("job1"));
        AllowedPaths allowed = new AllowedPaths("temp", List.of(temp));
        assertEquals(temp.toRealPath(), allowed.checkDirectory(temp.toString()));
        assertEquals(temp.toRealPath(), allowed.checkDirectory(temp + "/"));
        assertEquals(temp.toRealPath().resolve("job1"), allowed.checkDirectory(temp + "/job1"));
        for (String path : new String[] {dir.toString(), temp + "/..", "/tmp", "", temp + "/a/b"}) {
            assertThrows(AllowedPaths.PathRefused.class, () -> allowed.checkDirectory(path), path);
        }
    }
}
