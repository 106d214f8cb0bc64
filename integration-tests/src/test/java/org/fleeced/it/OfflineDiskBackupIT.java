package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue #8, scenario 7: an offline disk, one no workload ever connects to, is backed up the same
 * way: a full backup, then an incremental one that is empty, restored to the image's contents; the
 * image is not changed by being backed up.
 *
 * <pre>
 *   qemu-img create + qemu-io (offline) ─▶ vm image ─▶ attach (no workload) ─▶ job c1 (full) ─▶ job c2 (incremental from c1)
 * </pre>
 */
class OfflineDiskBackupIT {
    private static final String SIZE = "24M";

    /** Images made by QEMU's tools, as an offline disk would be. */
    enum Row {
        QCOW2_64K("qcow2", "-o", "cluster_size=65536"),
        QCOW2_2M_CLUSTERS("qcow2", "-o", "cluster_size=2097152"),
        RAW("raw");

        final String format;
        final String[] options;

        Row(String format, String... options) {
            this.format = format;
            this.options = options;
        }
    }

    @TempDir
    Path dir;

    @ParameterizedTest
    @EnumSource(Row.class)
    void anOfflineDiskIsBackedUpInFullThenIncrementally(Row row) throws Exception {
        Tool.require("qemu-img", "qemu-io", "nbdcopy");
        NbdDriver.requireLibnbd();
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            Path image = daemon.images().resolve("vm." + row.format);
            List<String> create = new ArrayList<>(List.of("qemu-img", "create", "-f", row.format));
            create.addAll(List.of(row.options));
            create.addAll(List.of(image.toString(), SIZE));
            Tool.run(create).ok();
            Tool.run("qemu-io", "-f", row.format, "-c", "write -P 0x5a 0 3M", "-c", "write -P 0xa5 10M 64k",
                    "-c", "write -z 11M 1M", "-c", "write -P 0x01 23M 1M", image.toString()).ok();
            Path original = dir.resolve("original.raw");
            Tool.run("qemu-img", "convert", "-f", row.format, "-O", "raw", image.toString(), original.toString()).ok();

            RestClient rest = daemon.rest();
            assertEquals(row.format, rest.attach("vm", image, row.format).path("format").asText());
            JsonNode full = rest.startJob(RestClient.jobRequest("c1", "vm"));
            assertEquals("full", full.path("disks").get(0).path("mode").asText());
            Path backup = NbdDriver.copy(full.path("disks").get(0).path("uri").asText(), dir.resolve("full.raw"));
            NbdDriver.assertSameBytes(original, backup, "full backup of the offline disk");
            rest.finish(full.path("id").asText(), "success");

            JsonNode inc = rest.startJob(RestClient.jobRequest("c2", "vm").put("incrementalFrom", "c1"));
            JsonNode disk = inc.path("disks").get(0);
            assertEquals("incremental", disk.path("mode").asText(), inc.toString());
            assertEquals(0, disk.path("stats").path("readableBytes").asLong(), "nothing changed: " + inc);
            NbdDriver.Increment increment = NbdDriver.readIncrement(disk.path("uri").asText(),
                    disk.path("metaContext").asText(), dir.resolve("inc.raw"));
            assertEquals(0, increment.dirtyBytes(), increment.toString());
            Path restore = Files.copy(backup, dir.resolve("restore.raw"));
            increment.applyTo(restore);
            NbdDriver.assertSameBytes(original, restore, "full + empty incremental");
            rest.finish(inc.path("id").asText(), "success");

            assertFalse(daemon.log().contains("opened export 'vm'"), "no workload ever connected");
            assertEquals(204, rest.delete("v1/disks/vm").status());
            if (row.format.equals("qcow2")) {
                Tool.run("qemu-img", "check", "-f", "qcow2", image.toString()).ok();
            }
            Tool.run("qemu-img", "compare", "-f", row.format, "-F", "raw", image.toString(), original.toString()).ok();
        }
    }
}
