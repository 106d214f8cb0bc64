package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code fleeced serve} driven by the real NBD clients: nbdinfo, qemu-img, qemu-io and nbdcopy, over
 * TCP and a Unix socket. One writable server and one read-only server on the same 64 MiB raw image
 * with data in its first MiB and at 32 MiB, holes elsewhere.
 */
class ServeNbdToolsIT {
    private static final int SIZE = 64 << 20;

    @TempDir
    static Path dir;
    static Path image;
    static Path readOnlyImage;
    static ServedImage writable;
    static ServedImage unix;
    static ServedImage readOnly;

    @BeforeAll
    static void start() throws Exception {
        Tool.require("nbdinfo");
        image = dir.resolve("disk.raw");
        readOnlyImage = dir.resolve("ro.raw");
        for (Path p : new Path[] {image, readOnlyImage}) {
            try (RandomAccessFile file = new RandomAccessFile(p.toFile(), "rw")) {
                file.setLength(SIZE);
                byte[] data = new byte[1 << 20];
                new Random(42).nextBytes(data);
                file.write(data);
                file.seek(32 << 20);
                file.write(data, 0, 65536);
            }
        }
        writable = ServedImage.tcp(dir, image, "--allocation-depth");
        unix = ServedImage.start(dir, readOnlyImage.toString(), "--read-only", "--export", "ro",
                "--socket", dir.resolve("nbd.sock").toString());
        readOnly = ServedImage.tcp(dir, readOnlyImage, "--read-only");
    }

    @AfterAll
    static void stop() throws Exception {
        for (ServedImage p : new ServedImage[] {writable, unix, readOnly}) {
            if (p != null) {
                assertEquals(0, p.stop(), p.log());
                assertTrue(p.log().contains("stopped cleanly"), p.log());
            }
        }
    }

    @Test
    void printsTheUrisAsQemuNbdWould() {
        assertTrue(writable.uri().matches("nbd://127\\.0\\.0\\.1:\\d+/"), writable.uri());
        assertEquals("nbd+unix:///ro?socket=" + dir.resolve("nbd.sock"), unix.uri());
    }

    @ParameterizedTest(name = "writable: --{0} {1} exits {2}")
    @CsvSource({
            "can, connect, 0", "can, read, 0", "can, write, 0", "can, flush, 0", "can, fua, 0",
            "can, trim, 0", "can, zero, 0", "can, fast-zero, 0", "can, df, 0", "can, multi-conn, 0",
            "can, cache, 0", "can, structured-reply, 0", "is, read-only, 2", "is, rotational, 2", "is, tls, 2"})
    void nbdinfoSeesTheWritableExportsFlags(String kind, String what, int exit) throws Exception {
        assertEquals(exit, Tool.run("nbdinfo", "--" + kind, what, writable.uri()).exit());
    }

    @ParameterizedTest(name = "read-only: --{0} {1} exits {2}")
    @CsvSource({
            "can, read, 0", "can, write, 2", "can, trim, 2", "can, zero, 2", "can, fast-zero, 2", "can, fua, 2",
            "can, flush, 0", "can, multi-conn, 0", "can, df, 0", "can, cache, 0", "is, read-only, 0"})
    void nbdinfoSeesTheReadOnlyExportsFlags(String kind, String what, int exit) throws Exception {
        assertEquals(exit, Tool.run("nbdinfo", "--" + kind, what, readOnly.uri()).exit());
    }

    @Test
    void nbdinfoListsJsonAndMaps() throws Exception {
        String list = Tool.run("nbdinfo", "--list", unix.uri()).ok().output();
        assertTrue(list.contains("export=\"ro\""), list);
        String json = Tool.run("nbdinfo", "--json", writable.uri()).ok().output();
        assertTrue(json.contains("\"export-size\": " + SIZE), json);
        assertTrue(json.contains("\"block_size_maximum\": 33554432"), json);
        assertTrue(json.contains("qemu:allocation-depth"), json);
        String map = Tool.run("nbdinfo", "--map", readOnly.uri()).ok().output();
        assertTrue(map.lines().anyMatch(l -> l.matches("\\s*0\\s+1048576\\s+0\\s+data")), map);
        assertTrue(map.lines().anyMatch(l -> l.matches("\\s*1048576\\s+32505856\\s+3\\s+hole,zero")), map);
        String depth = Tool.run("nbdinfo", "--map=qemu:allocation-depth", writable.uri()).ok().output();
        assertTrue(depth.lines().anyMatch(l -> l.matches("\\s*0\\s+\\d+\\s+1\\s+local")), depth);
    }

    @Test
    void qemuImgInfoMapConvertAndCompareOverTcpAndUnix() throws Exception {
        Tool.require("qemu-img");
        for (String uri : new String[] {readOnly.uri(), unix.uri()}) {
            String info = Tool.run("qemu-img", "info", "-f", "raw", uri).ok().output();
            assertTrue(info.contains("virtual size: 64 MiB"), info);
            String map = Tool.run("qemu-img", "map", "-f", "raw", "--output=json", uri).ok().output();
            assertTrue(map.contains("\"start\": 0, \"length\": 1048576") && map.contains("\"data\": true"), map);
            Path copy = dir.resolve("copy-" + Math.abs(uri.hashCode()) + ".qcow2");
            Tool.run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", uri, copy.toString()).ok();
            Tool.run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", uri, copy.toString()).ok();
            Tool.run("qemu-img", "compare", "-f", "raw", "-F", "raw", readOnlyImage.toString(), uri).ok();
        }
    }

    @Test
    void qemuIoWritesAndReadsPatternsZeroesDiscardsAndFua() throws Exception {
        Tool.require("qemu-io");
        Tool.run("qemu-io", "-f", "raw", writable.uri(),
                "-c", "write -P 0x5a 4M 1M",
                "-c", "read -P 0x5a 4M 1M",
                "-c", "write -z 4M 64k",
                "-c", "read -P 0 4M 64k",
                "-c", "read -P 0x5a 4259840 983040",
                "-c", "write -f -P 0x33 8M 128k",
                "-c", "read -P 0x33 8M 128k",
                "-c", "discard 8M 128k",
                "-c", "write -z -u 16M 1M",
                "-c", "read -P 0 16M 1M",
                "-c", "write -P 0x77 33554431 1",
                "-c", "read -P 0x77 33554431 1",
                "-c", "flush").ok();
    }

    @Test
    void qemuIoRefusesToWriteAReadOnlyExport() throws Exception {
        Tool.require("qemu-io");
        Tool result = Tool.run("qemu-io", "-f", "raw", readOnly.uri(), "-c", "write -P 1 0 4k");
        assertEquals(1, result.exit(), result.output());
    }

    @Test
    void nbdcopyCopiesBothWaysWithMultiConn() throws Exception {
        Tool.require("nbdcopy");
        Path source = dir.resolve("source.raw");
        try (RandomAccessFile file = new RandomAccessFile(source.toFile(), "rw")) {
            file.setLength(SIZE);
            byte[] data = new byte[3 << 20];
            new Random(7).nextBytes(data);
            file.seek(20 << 20);
            file.write(data);
        }
        Path back = dir.resolve("back.raw");
        try (ServedImage target = ServedImage.tcp(dir, Files.copy(readOnlyImage, dir.resolve("target.raw")))) {
            Tool.run("nbdcopy", "-C", "4", "--requests", "16", source.toString(), target.uri()).ok();
            Tool.run("nbdcopy", "-C", "4", target.uri(), back.toString()).ok();
            assertEquals(0, target.stop(), target.log());
        }
        assertEquals(-1, Files.mismatch(source, back));
    }
}
