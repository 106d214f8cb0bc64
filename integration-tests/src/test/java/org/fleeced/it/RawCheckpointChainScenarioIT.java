package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.it.NbdDriver.Extent;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12, point 4: a raw disk keeps its checkpoints across a restart and a {@code kill -9}, in
 * the bitmap sidecar beside the image, so its incremental backup chain goes on without
 * converting the disk. Walkthrough-style: a full backup with nbdcopy, incrementals read through
 * the {@code qemu:dirty-bitmap} context with libnbd and applied to a restore, which must hold the
 * bytes of a model (a local raw file that got every write the disk got).
 * <pre>
 *   raw vm: write; full c1 (nbdcopy) == model ─▶ success; SIGTERM; restart
 *     vm.raw.fleeced-bitmaps beside the image; c1 recording, persistent
 *   write 1 MiB; incremental c2 from c1 reads exactly that MiB; restore == model ─▶ success
 *   write 64 KiB and 4 KiB; SIGKILL; restart: c1, c2 recovered
 *   incremental c3 from c2 covers both writes; restore == model ─▶ success
 *   c4 from c3 ─▶ failure (never happened): c4 again from c3 is incremental
 * </pre>
 */
class RawCheckpointChainScenarioIT {
    private static final long M = 1 << 20;
    private static final long DISK = 64 * M;

    @TempDir
    Path dir;

    @BeforeAll
    static void clients() throws Exception {
        Tool.require("qemu-io", "qemu-img", "nbdcopy", "nbdinfo");
        NbdDriver.requireLibnbd();
    }

    @Test
    void aRawDisksIncrementalChainSurvivesARestartAndAKill() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            Path image = daemon.images().resolve("vm.raw");
            Tool.run("qemu-img", "create", "-q", "-f", "raw", image.toString(), Long.toString(DISK)).ok();
            rest.attach("vm", image, "raw");
            Path model = dir.resolve("model.raw");
            Tool.run("qemu-img", "create", "-q", "-f", "raw", model.toString(), Long.toString(DISK)).ok();

            write(daemon, model, "-P 0x11 0 8M");
            JsonNode full = rest.startJob(RestClient.jobRequest("c1", "vm"));
            Path restore = NbdDriver.copy(daemon.fleeceUri(full, "vm"), dir.resolve("restore.raw"));
            NbdDriver.assertSameBytes(model, restore, "the full backup");
            rest.finish(full.path("id").asText(), "success");
            assertEquals(0, daemon.stop(), daemon.log());
            assertTrue(Files.exists(image.resolveSibling("vm.raw.fleeced-bitmaps")), "the bitmap sidecar is beside the image");

            daemon.restart();
            JsonNode bitmaps = rest.bitmaps("vm");
            assertEquals(List.of("c1"), names(bitmaps), "c1 survives a clean restart: " + bitmaps);
            assertEquals("recording", bitmaps.at("/0/state").asText(), bitmaps.toString());
            assertTrue(bitmaps.at("/0/persistent").asBoolean(), bitmaps.toString());
            write(daemon, model, "-P 0x22 4M 1M");
            List<Extent> c1Changes = incremental(daemon, "c2", "c1", restore, model);
            assertEquals(List.of(new Extent(4 * M, M)), c1Changes, "the incremental reads exactly what changed since c1");

            write(daemon, model, "-P 0x33 40M 64k", "-P 0x44 63M 4k");
            daemon.kill();
            daemon.restart();
            bitmaps = rest.bitmaps("vm");
            assertEquals(List.of("c1", "c2"), names(bitmaps), "c1 and c2 survive kill -9: " + bitmaps);
            for (JsonNode b : bitmaps) {
                assertEquals("recovered", b.path("state").asText(), bitmaps.toString());
            }
            List<Extent> c2Changes = incremental(daemon, "c3", "c2", restore, model);
            assertTrue(new Extent(40 * M, 64 << 10).coveredBy(c2Changes) && new Extent(63 * M, 4096).coveredBy(c2Changes),
                    "the recovered c2 holds every write after it: " + c2Changes);

            JsonNode failed = rest.startJob(RestClient.jobRequest("c4", "vm").put("incrementalFrom", "c3"));
            rest.finish(failed.path("id").asText(), "failure");
            JsonNode retry = rest.startJob(RestClient.jobRequest("c4", "vm").put("incrementalFrom", "c3"));
            assertEquals("incremental", retry.at("/disks/0/mode").asText(), "the failed job never happened: " + retry);
            rest.finish(retry.path("id").asText(), "success");
            assertEquals(List.of("c1", "c2", "c3", "c4"), names(rest.bitmaps("vm")));
        }
    }

    /** The same writes (qemu-io syntax) to the disk through its export and to the model. */
    private static void write(DaemonUnderTest daemon, Path model, String... writes) throws Exception {
        NbdDriver.write(daemon.nbdUri("vm"), writes);
        NbdDriver.write(model.toString(), writes);
    }

    /**
     * An incremental job {@code name} from {@code base}: its dirty extents read through
     * {@code qemu:dirty-bitmap:BASE} and applied to {@code restore}, which must then equal the
     * model; the job succeeds. Returns the extents it read.
     */
    private static List<Extent> incremental(DaemonUnderTest daemon, String name, String base, Path restore, Path model)
            throws Exception {
        JsonNode job = daemon.rest().startJob(RestClient.jobRequest(name, "vm").put("incrementalFrom", base));
        assertEquals("incremental", job.at("/disks/0/mode").asText(), job.toString());
        NbdDriver.Increment increment = NbdDriver.readIncrement(daemon.fleeceUri(job, "vm"), "qemu:dirty-bitmap:" + base,
                restore.resolveSibling("increment-" + name + ".raw"));
        increment.applyTo(restore);
        NbdDriver.assertSameBytes(model, restore, "the restore after incremental " + name + " from " + base);
        daemon.rest().finish(job.path("id").asText(), "success");
        return increment.extents();
    }

    private static List<String> names(JsonNode bitmaps) {
        List<String> names = new ArrayList<>();
        bitmaps.forEach(b -> names.add(b.path("name").asText()));
        return names;
    }
}
