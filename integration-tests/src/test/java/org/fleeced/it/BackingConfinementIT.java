package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13's holes, reproduced exactly as reported and now refused: a qcow2 image whose backing
 * file is a host file (absolute, or relative and climbing out), and a guest that writes a qcow2
 * header naming a host file into its own raw disk, then is detached and attached again.
 * <pre>
 *   POST /v1/disks {path: IMGDIR/bk.qcow2} ──▶ DiskTable ──▶ DiskOpener ──▶ Qcow2Opener
 *                                                                  │ backing /etc/passwd
 *                                                                  ▼
 *                                               BackingPolicy(imageDirs): 403 BACKING_OUTSIDE
 * </pre>
 */
class BackingConfinementIT {
    @TempDir
    Path dir;

    private static void assertProblem(RestClient.Reply reply, int status, String reason, String mentions) {
        RestClient.Problem problem = reply.problem();
        assertEquals(status, reply.status(), reply.toString());
        assertEquals(reason, problem.reason(), reply.toString());
        assertTrue(problem.detail().contains(mentions), reply.toString());
    }

    private static Map<String, Object> attach(String name, String path, String format) {
        Map<String, Object> body = new LinkedHashMap<>(Map.of("name", name, "path", path));
        if (format != null) {
            body.put("format", format);
        }
        return body;
    }

    /**
     * Turns the backing format header extension (qcow2 spec "Header extensions", type 0xe2792aca)
     * into an unknown one, as an image written by an old QEMU lacks it: current qemu-img refuses to
     * write such an image itself.
     */
    private static void forgetBackingFormat(Path image) throws java.io.IOException {
        byte[] bytes = Files.readAllBytes(image);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.BIG_ENDIAN);
        int offset = b.getInt(100); // header_length: extensions follow the header (version 3)
        while (offset + 8 <= bytes.length && b.getInt(offset) != 0) {
            int length = b.getInt(offset + 4);
            if (b.getInt(offset) == 0xe2792aca) {
                b.putInt(offset, 0x6e6f6e65);
                Files.write(image, bytes);
                return;
            }
            offset += 8 + ((length + 7) & ~7);
        }
        throw new AssertionError("no backing format extension in " + image);
    }

    @Test
    void backingFilesOutsideTheImageDirectoriesAreRefused() throws Exception {
        Tool.require("qemu-img");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            Files.createDirectories(daemon.images());
            RestClient rest = daemon.rest();
            String absolute = daemon.images().resolve("bk.qcow2").toString();
            Tool.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", absolute, "1M").ok();
            assertProblem(rest.post("v1/disks", attach("bk", absolute, "qcow2")), 403, "BACKING_OUTSIDE", "/etc/passwd");

            String relative = daemon.images().resolve("rel.qcow2").toString();
            Tool.run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "../../../../../../../../../../etc/passwd",
                    "-F", "raw", relative, "1M").ok();
            assertProblem(rest.post("v1/disks", attach("rel", relative, "qcow2")), 403, "BACKING_OUTSIDE", "/etc/passwd");

            String noFormat = daemon.images().resolve("nf.qcow2").toString();
            Files.write(daemon.images().resolve("base.raw"), new byte[1 << 20]);
            Tool.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", noFormat, "1M").ok();
            forgetBackingFormat(Path.of(noFormat));
            assertProblem(rest.post("v1/disks", attach("nf", noFormat, "qcow2")), 400, "BACKING_FORMAT_REQUIRED",
                    "qemu-img rebase -u -F");

            assertEquals(0, rest.get("v1/disks").expect(200).json().size(), "no refusal attached anything");
        }
    }

    @Test
    void aGuestCannotTurnItsRawDiskIntoAWindowOnHostFiles() throws Exception {
        Tool.require("qemu-img");
        Tool.require("nbdcopy");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            Files.createDirectories(daemon.images());
            RestClient rest = daemon.rest();
            String raw = daemon.images().resolve("guest.raw").toString();
            JsonNode disk = rest.post("v1/disks", Map.of("name", "guest", "path", raw, "format", "raw",
                    "create", Map.of("sizeBytes", 1048576))).expect(201).json();
            String uri = disk.path("exports").get(0).path("uri").asText();
            // The guest writes, through its own writable export, a qcow2 header naming a host file.
            Path header = dir.resolve("evil.qcow2");
            Tool.run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", header.toString(), "1M")
                    .ok();
            byte[] evil = Files.readAllBytes(header);
            Tool.run("nbdcopy", header.toString(), uri).ok();
            rest.delete("v1/disks/guest").expect(204);
            assertEquals(0x514649fb, ByteBuffer.wrap(Files.readAllBytes(Path.of(raw)), 0, 4).order(ByteOrder.BIG_ENDIAN)
                    .getInt(), "the raw disk now starts with a qcow2 header");

            assertProblem(rest.post("v1/disks", attach("guest", raw, null)), 400, "FORMAT_REQUIRED",
                    "looks like qcow2 v3");
            assertProblem(rest.post("v1/disks", attach("guest", raw, "qcow2")), 403, "BACKING_OUTSIDE", "/etc/passwd");
            JsonNode asRaw = rest.post("v1/disks", attach("guest", raw, "raw")).expect(201).json();
            assertEquals("raw", asRaw.path("format").asText());
            assertTrue(new String(evil, 0, 4, StandardCharsets.ISO_8859_1).startsWith("QFI"));
        }
    }
}
