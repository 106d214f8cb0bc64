package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Instant restore (#17) from an NBD export served by nbdkit, whose size is not a multiple of 512:
 * the new qcow2 image is rounded up to 512 (as {@code qemu-img convert} rounds it) and its tail
 * reads as zeroes; fio writes 4 KiB blocks (partial clusters) into ranges the stream has not
 * reached, through the nbd engine on the disk's writable export, and verifies them.
 *
 * <pre>
 *   nbdkit pattern (48 MiB + 1001 bytes) ◀── restoreFrom.uri, 1 MiB/s
 *        │
 *        ▼
 *   images/vm.qcow2 (48 MiB + 1024) + copy-on-read ─▶ export vm ◀── fio randwrite verify, nbdcopy
 * </pre>
 */
class InstantRestoreNbdIT {
    private static final long SOURCE = (48L << 20) + 1001;
    private static final long IMAGE = (48L << 20) + 1024;
    private static final long FIO_FROM = 24L << 20;
    private static final long FIO_SIZE = 8L << 20;

    @TempDir
    Path dir;

    @Test
    void anOddSizedNbdSourceRestoresWhileFioVerifiesPartialClusterWrites() throws Exception {
        Tool.require("nbdkit", "fio", "nbdcopy", "qemu-img");
        Path socket = dir.resolve("pattern.sock");
        Process nbdkit = Tool.start(List.of("nbdkit", "-f", "-r", "-U", socket.toString(), "pattern", "size=" + SOURCE));
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            Awaitility.await().atMost(InstantRestoreIT.LONG).until(() -> Files.exists(socket));
            String source = "nbd+unix:///?socket=" + socket;
            Path expected = NbdDriver.copy(source, dir.resolve("expected.raw"));
            assertEquals(SOURCE, Files.size(expected));
            try (RandomAccessFile f = new RandomAccessFile(expected.toFile(), "rw")) {
                f.setLength(IMAGE);
            }

            JsonNode disk = InstantRestoreIT.createRestoring(daemon, Map.of("uri", source), 1 << 20);
            assertEquals(IMAGE, disk.path("sizeBytes").asLong(), disk.toString());
            String vm = daemon.nbdUri("vm");
            NbdDriver.fio("guest", vm, "--rw=randwrite", "--bs=4k", "--iodepth=8", "--offset=" + FIO_FROM,
                    "--size=" + FIO_SIZE, "--io_size=2M", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1",
                    "--randseed=23").ok();
            JsonNode during = daemon.rest().disk("vm").path("restore");
            assertEquals("running", during.path("state").asText(), during.toString());

            // every range read through the filter while the stream still runs, the tail included
            Path early = NbdDriver.copy(vm, dir.resolve("early.raw"));
            NbdDriver.assertSameBytes(withWindowOf(early, expected, dir.resolve("expected-early.raw")), early,
                    "read during the restore vs the source (zero tail) + fio's writes");

            InstantRestoreIT.awaitComplete(daemon);
            Path actual = NbdDriver.copy(vm, dir.resolve("actual.raw"));
            NbdDriver.assertSameBytes(withWindowOf(actual, expected, dir.resolve("expected-final.raw")), actual,
                    "restored image vs the source (zero tail) + fio's writes");
        } finally {
            nbdkit.destroyForcibly().waitFor();
        }
        Path image = dir.resolve("daemon/images/vm.qcow2");
        Tool.run("qemu-img", "check", "-U", image.toString()).ok();
        JsonNode info = RestClient.JSON.readTree(Tool.run("qemu-img", "info", "--output=json", "-U", image.toString()).ok().output());
        assertEquals(IMAGE, info.path("virtual-size").asLong(), info.toString());
        assertTrue(!info.has("backing-filename"), info.toString());
    }

    /** {@code expected} with fio's window as {@code disk} has it (fio verified it), in a new file. */
    private static Path withWindowOf(Path disk, Path expected, Path out) throws IOException {
        Files.copy(expected, out);
        InstantRestoreIT.copyWindow(disk, out, FIO_FROM, FIO_SIZE);
        return out;
    }
}
