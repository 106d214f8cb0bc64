package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A qcow2 image made by qemu-img, served by {@code fleeced serve}: what qemu wrote reads back
 * through NBD, what NBD clients write lands in the image, and the image passes qemu-img check.
 */
class ServeQcow2IT {
    @TempDir
    Path dir;

    @Test
    void qemuWrittenQcow2ReadsBackAndTakesWritesThatQemuImgAccepts() throws Exception {
        Tool.require("qemu-io");
        Path image = dir.resolve("disk.qcow2");
        Tool.run("qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=65536", image.toString(), "256M").ok();
        Tool.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 3M", "-c", "write -z 8M 1M",
                image.toString()).ok();

        try (ServedImage serve = ServedImage.tcp(dir, image, "--allocation-depth")) {
            String uri = serve.uri();
            Tool.run("qemu-io", "-f", "raw", "-c", "read -P 0x5a 1M 3M", "-c", "read -P 0 0 1M",
                    "-c", "read -P 0 8M 1M", uri).ok();
            Tool.run("qemu-io", "-f", "raw", "-c", "write -P 0xa5 100k 200k", "-c", "write -z 32k 16k",
                    "-c", "discard 2M 1M", uri).ok();
            String map = Tool.run("nbdinfo", "--map", uri).ok().output();
            assertTrue(map.contains("hole,zero"), map);
            assertEquals(0, serve.stop(), serve.log());
        }

        Tool.run("qemu-img", "check", image.toString()).ok();
        Tool.run("qemu-io", "-f", "qcow2", "-c", "read -P 0xa5 100k 200k", "-c", "read -P 0 32k 16k",
                "-c", "read -P 0x5a 1M 1M", "-c", "read -P 0x5a 3M 1M", image.toString()).ok();
    }

    @Test
    void writesAreRecordedInTheImagesBitmapAndPublishedWithBitmap() throws Exception {
        Tool.require("qemu-io");
        Tool.require("nbdinfo");
        Path image = dir.resolve("tracked.qcow2");
        Tool.run("qemu-img", "create", "-f", "qcow2", image.toString(), "64M").ok();
        Tool.run("qemu-img", "bitmap", "--add", image.toString(), "b1").ok();

        try (ServedImage serve = ServedImage.tcp(dir, image)) {
            Tool.run("qemu-io", "-f", "raw", "-c", "write -P 0x11 1M 64k", "-c", "write -P 0x22 10M 100k",
                    serve.uri()).ok();
            assertEquals(0, serve.stop(), serve.log());
        }
        Tool.run("qemu-img", "check", image.toString()).ok();
        String info = Tool.run("qemu-img", "info", image.toString()).ok().output();
        assertTrue(info.contains("b1") && !info.contains("in-use"), info);

        try (ServedImage serve = ServedImage.tcp(dir, image, "--read-only", "--bitmap", "b1")) {
            String map = Tool.run("nbdinfo", "--map=qemu:dirty-bitmap:b1", serve.uri()).ok().output();
            // 64 KiB granularity: [1M, 1M+64k) and [10M, 10M+128k) are dirty, nothing else
            String expected = "1048576 65536 1 dirty|10485760 131072 1 dirty";
            String dirty = String.join("|", map.lines().map(String::trim).filter(l -> l.endsWith(" dirty"))
                    .map(l -> l.replaceAll("\\s+", " ")).toList());
            assertEquals(expected, dirty, map);
            assertEquals(0, serve.stop(), serve.log());
        }
    }
}
