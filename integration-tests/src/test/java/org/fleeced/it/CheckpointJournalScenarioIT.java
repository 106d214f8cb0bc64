package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.fleeced.it.NbdDriver.Extent;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #12, points 1 and 4: every checkpoint transition is durable before the API answers, so
 * {@code kill -9} right after an answer loses no checkpoint and no acknowledged change, on qcow2
 * disks and on raw ones (whose bitmaps live in a sidecar beside the image).
 *
 * <pre>
 *   full a ─▶ success; write; incremental b from a ─▶ success; write ─▶ SIGKILL at once
 *   restart: a and b recovered; incrementalFrom b is incremental and reads the write after b
 *
 *   seeded rounds, two qcow2 and two raw disks: guest writes (qemu-io), job start / finish success / failure, bitmap
 *   create / delete / clear / merge / enable / disable, in random order ─▶ SIGKILL
 *   restart: the acknowledged checkpoints, all recovered (a job that ran never happened), and a
 *   differential from the oldest reads every acknowledged change (a model of what was written)
 * </pre>
 */
class CheckpointJournalScenarioIT {
    private static final long M = 1 << 20;
    private static final long DISK = 32 * M;
    private static final int ROUNDS = Integer.getInteger("fleeced.crashRounds", 5);
    private static final int DISKS = 4;

    @TempDir
    Path dir;

    @BeforeAll
    static void clients() throws Exception {
        Tool.require("qemu-io", "qemu-img", "nbdinfo");
        NbdDriver.requireLibnbd();
    }

    @Test
    void aCommittedIncrementalSurvivesKill9RightAfterItsFinish() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", DISK);
            NbdDriver.write(daemon.nbdUri("vm"), "-P 0x11 0 4M");
            rest.finish(rest.startJob(RestClient.jobRequest("a", "vm")).path("id").asText(), "success");
            NbdDriver.write(daemon.nbdUri("vm"), "-P 0x22 8M 1M");
            JsonNode b = rest.startJob(RestClient.jobRequest("b", "vm").put("incrementalFrom", "a"));
            assertEquals("incremental", b.at("/disks/0/mode").asText(), b.toString());
            rest.finish(b.path("id").asText(), "success");
            NbdDriver.write(daemon.nbdUri("vm"), "-P 0x33 20M 64k");
            daemon.kill();

            checkImage(daemon, "vm");
            daemon.restart();
            await().atMost(Duration.ofSeconds(60)).until(() -> daemon.rest().get("v1/disks/vm").status() == 200);
            JsonNode bitmaps = rest.bitmaps("vm");
            assertEquals(List.of("a", "b"), names(bitmaps), "every acknowledged checkpoint exists: " + bitmaps);
            for (JsonNode bitmap : bitmaps) {
                assertEquals("recovered", bitmap.path("state").asText(), bitmaps.toString());
            }
            JsonNode c = rest.startJob(RestClient.jobRequest("c", "vm").put("incrementalFrom", "b"));
            assertEquals("incremental", c.at("/disks/0/mode").asText(), c.toString());
            List<Extent> dirty = NbdDriver.dirtyExtents(c.at("/disks/0/uri").asText(), "qemu:dirty-bitmap:b");
            assertTrue(new Extent(20 * M, 64 << 10).coveredBy(dirty), "the write after b is in b: " + dirty);
            rest.finish(c.path("id").asText(), "success");
        }
    }

    /**
     * Each kill crashes {@value #DISKS} disks at once (qcow2 and raw alternately), each driven by its own random sequence,
     * so {@code fleeced.crashRounds} kills (default 5, one daemon start each) check
     * {@value #DISKS} times as many crash rounds.
     */
    @Test
    void seededKill9LosesNoAcknowledgedCheckpointOrChange() throws Exception {
        long seed = Long.getLong("fleeced.crashSeed", System.nanoTime());
        Random random = new Random(seed);
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            List<Model> models = new ArrayList<>();
            for (int d = 0; d < DISKS; d++) {
                String format = d % 2 == 0 ? "qcow2" : "raw";
                rest.post("v1/disks", Map.of("name", "vm" + d, "path", daemon.images().resolve("vm" + d + "." + format).toString(),
                        "format", format, "create", Map.of("sizeBytes", DISK))).expect(201);
                models.add(new Model("vm" + d, format));
            }
            for (int round = 0; round < ROUNDS; round++) {
                for (Model model : models) {
                    int ops = 1 + random.nextInt(6);
                    for (int i = 0; i < ops; i++) {
                        step(daemon, model, random, round + "-" + i);
                    }
                }
                daemon.kill();
                for (Model model : models) {
                    if (model.format.equals("qcow2")) {
                        checkImage(daemon, model.disk);
                    }
                }
                restart(daemon, models);
                for (Model model : models) {
                    String context = "seed " + seed + ", kill " + round + ", disk " + model.disk + " (" + model.format + ")";
                    model.crash();
                    JsonNode bitmaps = rest.bitmaps(model.disk);
                    assertEquals(model.names(), names(bitmaps), context + ": the acknowledged checkpoints " + bitmaps);
                    for (JsonNode bitmap : bitmaps) {
                        assertEquals("recovered", bitmap.path("state").asText(), context + ": " + bitmaps);
                    }
                    if (!model.checkpoints.isEmpty()) {
                        verifyChanges(daemon, model, context);
                    }
                }
            }
        }
    }

    /** A differential from the oldest checkpoint reads every change the model holds; the check job then fails, so it never happened. */
    private static void verifyChanges(DaemonUnderTest daemon, Model model, String context) throws Exception {
        String oldest = model.checkpoints.getFirst().name;
        JsonNode job = daemon.rest().startJob(RestClient.jobRequest("verify", model.disk).put("differentialFrom", oldest));
        List<Extent> dirty = NbdDriver.dirtyExtents(job.at("/disks/0/uri").asText(), "qemu:dirty-bitmap:" + oldest);
        for (ModelCheckpoint c : model.checkpoints) {
            for (Extent e : c.changes) {
                assertTrue(e.coveredBy(dirty), context + ": acknowledged change " + e + " of " + c.name
                        + " is missing from " + dirty);
            }
        }
        daemon.rest().finish(job.path("id").asText(), "failure");
    }

    private static void step(DaemonUnderTest daemon, Model model, Random random, String id) throws Exception {
        RestClient rest = daemon.rest();
        List<String> names = model.names();
        int op = random.nextInt(12);
        if (op < 4) {
            long offset = random.nextLong(DISK / 4096) * 4096;
            long length = Math.min(DISK - offset, 4096L * (1 + random.nextInt(64)));
            NbdDriver.write(daemon.nbdUri(model.disk), String.format("-P 0x%02x %d %d", random.nextInt(256), offset, length));
            model.write(new Extent(offset, length));
        } else if (op < 7 && model.runningJob == null) {
            String name = random.nextInt(3) == 0 ? "retry" : "j" + id;
            if (model.find(name) != null) {
                return;
            }
            ObjectNode request = RestClient.jobRequest(name, model.disk);
            if (!names.isEmpty() && random.nextBoolean()) {
                request.put("incrementalFrom", names.get(random.nextInt(names.size())));
            }
            model.runningJob = rest.startJob(request).path("id").asText();
            model.create(name, true);
        } else if (op < 7) {
            boolean ok = random.nextBoolean();
            rest.finish(model.runningJob, ok ? "success" : "failure");
            model.finish(ok);
        } else if (model.runningJob != null) {
            return;
        } else if (op < 8) {
            String name = "b" + id;
            rest.post("v1/disks/" + model.disk + "/bitmaps", "{\"name\":\"" + name + "\"}").expect(201);
            model.create(name, false);
        } else if (names.isEmpty()) {
            return;
        } else if (op < 9) {
            String name = names.get(random.nextInt(names.size()));
            rest.delete("v1/disks/" + model.disk + "/bitmaps/" + name).expect(200);
            model.remove(name);
        } else if (op < 10) {
            String name = names.get(random.nextInt(names.size()));
            rest.post("v1/disks/" + model.disk + "/bitmaps/" + name + "/clear", "{}").expect(200);
            model.find(name).changes.clear();
        } else if (op < 11) {
            String target = names.get(random.nextInt(names.size()));
            String source = names.get(random.nextInt(names.size()));
            rest.post("v1/disks/" + model.disk + "/bitmaps/" + target + "/merge", "{\"sources\":[\"" + source + "\"]}").expect(200);
            model.find(target).changes.addAll(model.find(source).changes);
        } else {
            boolean enable = random.nextBoolean();
            rest.post("v1/disks/" + model.disk + "/bitmaps/" + names.getLast() + (enable ? "/enable" : "/disable"), "{}").expect(200);
            model.newestRecords = enable;
        }
    }

    private static void checkImage(DaemonUnderTest daemon, String disk) throws Exception {
        Tool check = Tool.run("qemu-img", "check", "-f", "qcow2", daemon.images().resolve(disk + ".qcow2").toString());
        assertTrue(check.exit() == 0 || check.exit() == 3, "qemu-img check: only leaks after a crash: " + check.output());
    }

    private static void restart(DaemonUnderTest daemon, List<Model> models) throws Exception {
        daemon.restart();
        for (Model model : models) {
            await().atMost(Duration.ofSeconds(60)).until(() -> daemon.rest().get("v1/disks/" + model.disk).status() == 200);
        }
    }

    private static List<String> names(JsonNode bitmaps) {
        List<String> names = new ArrayList<>();
        bitmaps.forEach(b -> names.add(b.path("name").asText()));
        return names;
    }

    /** One checkpoint of the model: the ranges it must hold at least. */
    private static final class ModelCheckpoint {
        final String name;
        final List<Extent> changes = new ArrayList<>();
        boolean pending;

        ModelCheckpoint(String name, boolean pending) {
            this.name = name;
            this.pending = pending;
        }
    }

    /** What the daemon acknowledged: checkpoints oldest first, as DESIGN.md section 6 says they change. */
    private static final class Model {
        final String disk;
        final String format;
        final List<ModelCheckpoint> checkpoints = new ArrayList<>();
        String runningJob;
        boolean newestRecords = true;

        Model(String disk, String format) {
            this.disk = disk;
            this.format = format;
        }

        ModelCheckpoint find(String name) {
            return checkpoints.stream().filter(c -> c.name.equals(name)).findFirst().orElse(null);
        }

        List<String> names() {
            return checkpoints.stream().map(c -> c.name).toList();
        }

        void write(Extent e) {
            if (!checkpoints.isEmpty() && newestRecords) {
                checkpoints.getLast().changes.add(e);
            }
        }

        void create(String name, boolean byJob) {
            checkpoints.add(new ModelCheckpoint(name, byJob));
            newestRecords = true;
        }

        void remove(String name) {
            ModelCheckpoint gone = find(name);
            int index = checkpoints.indexOf(gone);
            checkpoints.remove(index);
            if (index > 0) {
                checkpoints.get(index - 1).changes.addAll(gone.changes);
                newestRecords |= index == checkpoints.size();
            }
        }

        void finish(boolean ok) {
            ModelCheckpoint job = checkpoints.stream().filter(c -> c.pending).findFirst().orElseThrow();
            if (ok) {
                job.pending = false;
            } else {
                remove(job.name);
            }
            runningJob = null;
        }

        /** A crash fails the running job; after recovery the newest records. */
        void crash() {
            checkpoints.stream().filter(c -> c.pending).map(c -> c.name).toList().forEach(this::remove);
            runningJob = null;
            newestRecords = true;
        }
    }
}
