package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.fleeced.it.DaemonUnderTest.CliRun;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #18's client commands, run as an operator runs them ({@code bin/fleeced CMD --url URL},
 * token in {@code FLEECED_TOKEN}) against a real daemon: tables for people, {@code --json} equal to
 * what the API returns, one-line errors with the documented exit statuses.
 */
class CliIT {
    private static final long M = 1 << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void clients() {
        Tool.require("qemu-img", "qemu-io");
    }

    @Test
    void disksAndJobsAsTablesAndAsTheApisJson() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            Path image = daemon.images().resolve("vm1.qcow2");
            CliRun attached = daemon.cli("attach", "vm1", image.toString(), "--create", "16M").ok();
            assertTrue(attached.out().startsWith("attached vm1: " + image), attached.out());

            CliRun table = daemon.cli("disks").ok();
            assertTrue(table.out().lines().findFirst().orElseThrow().startsWith("NAME"), table.out());
            assertTrue(table.out().contains("vm1") && table.out().contains("16 MiB"), table.out());
            assertEquals(daemon.rest().get("v1/disks").expect(200).json(), daemon.cli("disks", "--json").ok().json());
            assertEquals(daemon.rest().disk("vm1"), daemon.cli("--json", "disk", "vm1").ok().json(),
                    "--json before the command works too");
            assertTrue(daemon.cli("disk", "vm1").ok().out().contains("No checkpoints yet"));

            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 4M");
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1"));
            String id = job.get("id").asText();
            CliRun jobs = daemon.cli("jobs").ok();
            assertTrue(jobs.out().contains(id) && jobs.out().contains("running"), jobs.out());
            assertEquals(daemon.rest().job(id), daemon.cli("job", id, "--json").ok().json());
            assertTrue(daemon.cli("job", id).ok().out().contains("state:       running"));

            CliRun finished = daemon.cli("finish", id, "success").ok();
            assertEquals("job " + id + ": finished", finished.out().strip());
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x22 0 1M");
            CliRun chain = daemon.cli("checkpoints", "vm1").ok();
            assertTrue(chain.out().contains("c1") && chain.out().contains("recording") && chain.out().contains("1 MiB"),
                    chain.out());
            JsonNode chainJson = daemon.cli("checkpoints", "vm1", "--json").ok().json();
            assertEquals(1 << 20, chainJson.get(0).get("incrementalReadBytes").asLong(), chainJson.toString());

            daemon.cli("detach", "vm1").ok();
            CliRun gone = daemon.cli("disk", "vm1");
            assertEquals(4, gone.exit(), "not found: " + gone);
            assertEquals(1, gone.err().strip().lines().count(), gone.err());
            assertTrue(gone.err().startsWith("fleeced disk: No disk 'vm1' is attached"), gone.err());
        }
    }

    @Test
    void restoreAttachesAtOnceAndWaitsForTheStreamWhenAsked() throws Exception {
        Tool.require("nbdcopy");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            Path backups = java.nio.file.Files.createDirectories(daemon.dir().resolve("state/backups"));
            Path source = backups.resolve("vm1-c1.qcow2");
            Tool.run("qemu-img", "create", "-q", "-f", "qcow2", source.toString(), "16M").ok();
            Tool.run("qemu-io", "-f", "qcow2", "-c", "write -P 0x33 0 4M", "-c", "write -P 0x44 12M 1M",
                    source.toString()).ok();

            CliRun noFormat = daemon.cli("restore", "vm2", daemon.images().resolve("vm2.qcow2").toString(),
                    "--from", source.toString());
            assertEquals(2, noFormat.exit(), noFormat.toString());

            CliRun restored = daemon.cli("restore", "vm1", daemon.images().resolve("vm1.qcow2").toString(),
                    "--from", source.toString(), "--format", "qcow2", "--wait").ok();
            assertTrue(restored.out().startsWith("restoring vm1 from " + source + ": usable now at "
                    + daemon.nbdUri("vm1")), restored.out());
            assertTrue(restored.out().contains("restored vm1"), restored.out());
            assertTrue(restored.err().contains("100%") && restored.err().contains("complete"), restored.err());
            Path now = NbdDriver.copy(daemon.nbdUri("vm1"), dir.resolve("restored.raw"));
            assertEquals(0, Tool.run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", now.toString(),
                    source.toString()).exit(), "the restored disk equals its backup");
        }
    }

    @Test
    void backupMakesAChainInADirectoryWithProgressAndTheRightExitStatus() throws Exception {
        Tool.require("nbdcopy");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            daemon.createDisk("vm1", 16 * M);
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 8M");
            Path chain = java.nio.file.Files.createDirectories(daemon.dir().resolve("state/backups/vm1"));

            CliRun full = daemon.cli("backup", "vm1", "--to", chain.toString(), "--checkpoint", "c1").ok();
            Path first = chain.resolve("vm1-c1.qcow2");
            assertTrue(full.out().startsWith("backup of vm1 at c1: " + first + " (full"), full.out());
            assertTrue(full.err().contains("100%") && full.err().contains("finished"), "progress lines: " + full.err());

            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x22 4M 1M");
            CliRun auto = daemon.cli("backup", "vm1", "--to", chain.toString(), "--auto").ok();
            assertTrue(auto.out().contains("(incremental from c1"), auto.out());
            Path top;
            try (var files = java.nio.file.Files.list(chain)) {
                top = files.filter(f -> !f.equals(first)).findFirst().orElseThrow();
            }
            assertTrue(top.getFileName().toString().matches("vm1-b-\\d{8}-\\d{6}\\.qcow2"), top.toString());
            Tool.run("qemu-img", "check", first.toString()).ok();
            Tool.run("qemu-img", "check", top.toString()).ok();
            Path now = NbdDriver.copy(daemon.nbdUri("vm1"), dir.resolve("now.raw"));
            assertEquals(0, Tool.run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", now.toString(), top.toString())
                    .exit(), "the chain's top restores the disk");

            CliRun taken = daemon.cli("backup", "vm1", "--to", chain.toString(), "--checkpoint", "c1");
            assertEquals(5, taken.exit(), "the file or checkpoint exists: " + taken);
            assertEquals(1, taken.err().strip().lines().count(), taken.err());
        }
    }

    @Test
    void refusalsAreOneLineWithTheirExitStatus() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            Path image = daemon.images().resolve("plain.qcow2");
            Tool.run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), "8M").ok();
            CliRun noFormat = daemon.cli("attach", "plain", image.toString());
            assertEquals(6, noFormat.exit(), noFormat.toString());
            assertEquals(1, noFormat.err().strip().lines().count(), noFormat.err());
            assertTrue(noFormat.err().contains("pass \"format\": \"qcow2\"") && noFormat.err().contains("[FORMAT_REQUIRED]"),
                    noFormat.err());

            daemon.cli("attach", "plain", image.toString(), "--format", "qcow2").ok();
            CliRun twice = daemon.cli("attach", "plain", image.toString(), "--format", "qcow2");
            assertEquals(5, twice.exit(), "conflict: " + twice);

            CliRun badToken = daemon.cli("disks", "--token", "not-the-token");
            assertEquals(7, badToken.exit(), badToken.toString());
            CliRun badSize = daemon.cli("attach", "x", image.toString(), "--create", "lots");
            assertEquals(2, badSize.exit(), badSize.toString());
            assertTrue(badSize.err().contains("'lots' is not a size"), badSize.err());
        }
    }

    @Test
    void eventsAreFollowedOneLineEach() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            ProcessBuilder builder = new ProcessBuilder(FleecedProcess.checkout().resolve("bin/fleeced").toString(),
                    "events", "--url", daemon.rest().base()).redirectError(ProcessBuilder.Redirect.DISCARD);
            builder.environment().put("FLEECED_TOKEN", daemon.token());
            builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
            builder.environment().remove("FLEECED_JAVA_OPTS");
            Process events = builder.start();
            List<String> lines = new ArrayList<>();
            CompletableFuture<Void> reading = CompletableFuture.runAsync(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(events.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line = r.readLine(); line != null; line = r.readLine()) {
                        synchronized (lines) {
                            lines.add(line);
                        }
                    }
                } catch (java.io.IOException e) {
                    // the process was stopped
                }
            });
            try {
                // attach repeatedly until the follower, which needs a moment to start, has seen one
                org.awaitility.Awaitility.await("an attach seen by fleeced events").atMost(java.time.Duration.ofMinutes(1))
                        .until(() -> {
                            String name = "d" + System.nanoTime() % 100000;
                            daemon.rest().createDisk(name, daemon.images().resolve(name + ".qcow2"), 4 * M);
                            synchronized (lines) {
                                return lines.stream().anyMatch(l -> l.matches("\\d\\d:\\d\\d:\\d\\d disk-attached .*disk=d\\d+.*"));
                            }
                        });
            } finally {
                events.destroy();
                events.waitFor(10, TimeUnit.SECONDS);
                reading.join();
            }
        }
    }
}
