package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * libnbd (through /usr/bin/python3 and its nbd module) in non-strict mode, so misused requests
 * really reach the server: each gets the error the spec prescribes and the handle stays usable.
 * Also a client killed with requests in flight, and a short fio verify run with its nbd engine.
 */
class ServeProtocolPrecisionIT {
    @TempDir
    static Path dir;
    static ServedImage writable;
    static ServedImage readOnly;

    @BeforeAll
    static void start() throws Exception {
        Tool.require("python3");
        Path image = dir.resolve("disk.raw");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(16 << 20);
        }
        writable = ServedImage.tcp(dir, image);
        readOnly = ServedImage.tcp(dir, Files.copy(image, dir.resolve("ro.raw")), "--read-only");
    }

    @AfterAll
    static void stop() throws Exception {
        for (ServedImage p : new ServedImage[] {writable, readOnly}) {
            if (p != null) {
                assertEquals(0, p.stop(), p.log());
            }
        }
    }

    private static Tool python(String script) throws Exception {
        Path file = Files.writeString(Files.createTempFile(dir, "check", ".py"), script);
        Tool result = Tool.run("/usr/bin/python3", file.toString());
        assertTrue(!result.output().contains("No module named 'nbd'"), "python3-libnbd missing");
        return result;
    }

    private static final String HELPERS = """
            import errno, nbd, sys
            def expect(what, err, fn, *args):
                try:
                    fn(*args)
                except nbd.Error as e:
                    got = e.errno if isinstance(e.errno, int) else getattr(errno, e.errno)
                    assert got == err, f"{what}: got {e.errno} ({e.string}), want {err}"
                    return
                raise AssertionError(f"{what}: succeeded, want {err}")
            """;

    @Test
    void misusedRequestsGetTheSpecErrorsWithAndWithoutStructuredReplies() throws Exception {
        String script = HELPERS + """
                for structured in (True, False):
                    h = nbd.NBD()
                    h.set_request_structured_replies(structured)
                    h.connect_uri(sys.argv[1] if len(sys.argv) > 1 else "%s")
                    h.set_strict_mode(0)
                    size = h.get_size()
                    expect("read past end", errno.EINVAL, h.pread, 512, size)
                    expect("read overflowing 2^64", errno.EINVAL, h.pread, 1024, 2**64 - 512)
                    expect("write past end", errno.ENOSPC, h.pwrite, b"x" * 512, size)
                    expect("zero past end", errno.ENOSPC, h.zero, 512, size)
                    expect("trim past end", errno.EINVAL, h.trim, 512, size)
                    expect("oversize read", errno.EINVAL, h.pread, 33 * 1024 * 1024, 0)
                    expect("zero-size read", errno.EINVAL, h.pread, 0, 0)
                    expect("unknown flag", errno.EINVAL, h.pread, 512, 0, 0x40)
                    if not structured:
                        expect("DF without structured replies", errno.EINVAL, h.pread, 512, 0, nbd.CMD_FLAG_DF)
                    h.pwrite(b"\\x5a" * 4096, 4096)
                    assert h.pread(4096, 4096) == b"\\x5a" * 4096
                    h.shutdown()
                print("ok")
                """.formatted(writable.uri());
        Tool result = python(script);
        assertEquals(0, result.exit(), result.output());
    }

    @Test
    void writesToAReadOnlyExportGetEperm() throws Exception {
        String script = HELPERS + """
                h = nbd.NBD()
                h.connect_uri("%s")
                h.set_strict_mode(0)
                expect("write", errno.EPERM, h.pwrite, b"x" * 4096, 0)
                expect("zero", errno.EPERM, h.zero, 4096, 0)
                expect("trim", errno.EPERM, h.trim, 4096, 0)
                assert h.pread(4096, 0) == bytes(4096)
                h.shutdown()
                """.formatted(readOnly.uri());
        Tool result = python(script);
        assertEquals(0, result.exit(), result.output());
    }

    @Test
    void optionModeListsExportsAndContextsThenGoes() throws Exception {
        String script = """
                import nbd
                h = nbd.NBD()
                h.set_opt_mode(True)
                h.connect_uri("%s")
                names = []
                assert h.opt_list_meta_context(lambda name: names.append(name)) == 1, names
                assert names == ["base:allocation"], names
                assert h.opt_list(lambda name, desc: 0) == 1
                h.add_meta_context("base:allocation")
                h.opt_go()
                assert h.can_meta_context("base:allocation")
                assert h.get_size() == 16 * 1024 * 1024
                h.shutdown()
                """.formatted(writable.uri());
        Tool result = python(script);
        assertEquals(0, result.exit(), result.output());
    }

    @Test
    void aClientKilledWithRequestsInFlightLeavesTheServerServing() throws Exception {
        String script = """
                import nbd, os
                h = nbd.NBD()
                h.connect_uri("%s")
                buf = nbd.Buffer(4 * 1024 * 1024)
                for i in range(32):
                    h.aio_pwrite(buf, (i %% 4) * 4 * 1024 * 1024)
                    h.aio_pread(4 * 1024 * 1024, 0)
                h.poll(0)
                os._exit(0)
                """.formatted(writable.uri());
        python(script);
        Tool info = Tool.run("nbdinfo", "--size", writable.uri()).ok();
        assertEquals("16777216", info.output().trim());
        assertTrue(writable.alive());
    }

    @Test
    void fioVerifiesWhatItWrote() throws Exception {
        Tool.require("fio");
        Tool result = NbdDriver.fio("verify", writable.uri(), "--rw=randwrite", "--bs=4k", "--size=8m",
                "--iodepth=8", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1");
        assertEquals(0, result.exit(), result.output());
        assertTrue(!result.output().contains("verify: bad"), result.output());
    }
}
