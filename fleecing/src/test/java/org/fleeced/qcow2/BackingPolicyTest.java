package org.fleeced.qcow2;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Which backing files an image may reach. Pattern table: each test is one way a header (which a
 * guest may have written itself) tries to step outside the image directories.
 */
class BackingPolicyTest {
    private static final byte[] SECRET = "root:x:0:0:host secret\n".repeat(50).getBytes();

    @TempDir
    Path images;
    @TempDir
    Path host;

    private Path secret() throws IOException {
        Path secret = host.resolve("passwd");
        Files.write(secret, SECRET);
        return secret;
    }

    private Qcow2OpenOptions confined() {
        return Qcow2OpenOptions.readWrite().withBackingPolicy(BackingPolicy.confinedTo(List.of(images)));
    }

    private BackingRefusedException refused(Path image) {
        return assertThrows(BackingRefusedException.class, () -> Qcow2Node.open(image, confined()).close());
    }

    @Test
    void absoluteBackingOutsideIsRefusedAndNamed() throws Exception {
        Path secret = secret();
        Path image = images.resolve("bk.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(1 << 20).withBacking(secret.toString(), "raw"));
        BackingRefusedException e = refused(image);
        assertEquals(BackingRefusedException.Reason.OUTSIDE, e.reason());
        assertEquals(secret.toRealPath(), e.file());
        assertTrue(e.getMessage().contains(secret.toString()), e.getMessage());
    }

    @Test
    void relativeBackingClimbingOutIsRefused() throws Exception {
        Path secret = secret();
        Path image = images.resolve("rel.qcow2");
        String climb = "../".repeat(images.getNameCount()) + secret.toString().substring(1);
        Qcow2Creator.create(image, Qcow2CreateOptions.of(1 << 20).withBacking(climb, "raw"));
        assertEquals(BackingRefusedException.Reason.OUTSIDE, refused(image).reason());
    }

    @Test
    void symlinkInsideThatPointsOutsideIsRefused() throws Exception {
        Files.createSymbolicLink(images.resolve("innocent.raw"), secret());
        Path image = images.resolve("link.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(1 << 20).withBacking("innocent.raw", "raw"));
        assertEquals(BackingRefusedException.Reason.OUTSIDE, refused(image).reason());
    }

    @Test
    void deeperChainMemberOutsideIsRefused() throws Exception {
        Path secret = secret();
        Path middle = images.resolve("middle.qcow2");
        Qcow2Creator.create(middle, Qcow2CreateOptions.of(1 << 20).withBacking(secret.toString(), "raw"));
        Path top = images.resolve("top.qcow2");
        Qcow2Creator.create(top, Qcow2CreateOptions.of(1 << 20).withBacking("middle.qcow2", "qcow2"));
        assertEquals(BackingRefusedException.Reason.OUTSIDE, refused(top).reason());
    }

    @Test
    void backingWithoutRecordedFormatIsNeverProbed() throws Exception {
        Files.write(images.resolve("base.raw"), new byte[1 << 20]);
        Path image = images.resolve("noformat.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(1 << 20).withBacking("base.raw", null));
        assertEquals(BackingRefusedException.Reason.FORMAT_REQUIRED, refused(image).reason());
        BackingRefusedException unconfined = assertThrows(BackingRefusedException.class,
                () -> Qcow2Node.open(image, Qcow2OpenOptions.readOnlyDefaults()).close());
        assertEquals(BackingRefusedException.Reason.FORMAT_REQUIRED, unconfined.reason());
        assertTrue(unconfined.getMessage().contains("qemu-img rebase -u -F"), unconfined.getMessage());
    }

    @Test
    void backingInsideTheDirectoriesReadsThrough() throws Exception {
        byte[] base = new byte[1 << 20];
        for (int i = 0; i < base.length; i++) {
            base[i] = (byte) (i * 31);
        }
        Files.createDirectories(images.resolve("bases"));
        Files.write(images.resolve("bases/base.raw"), base);
        Path image = images.resolve("ok.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(1 << 20).withBacking("bases/base.raw", "raw"));
        try (Qcow2Node node = Qcow2Node.open(image, confined())) {
            ByteBuffer got = ByteBuffer.allocate(base.length);
            node.read(0, got);
            assertArrayEquals(base, got.array());
        }
    }

    @Test
    void unconfinedPolicyReachesAnyFileTheOperatorNamed() throws Exception {
        Path secret = secret();
        Path image = images.resolve("serve.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(1 << 20).withBacking(secret.toString(), "raw"));
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readOnlyDefaults())) {
            ByteBuffer got = ByteBuffer.allocate(SECRET.length);
            node.read(0, got);
            assertArrayEquals(SECRET, got.array());
        }
    }
}
