package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.fleeced.daemon.guest.GuestAgentEndpoint;
import org.fleeced.daemon.guest.GuestAgentEndpoint.Behaviour;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #15 part 1: jobs freeze the guests' file systems through their QEMU guest agents exactly
 * around the snapshot point, and thaw them on every path. The agent is a {@link GuestAgentEndpoint}
 * on a unix socket; what the guest writes while freezing (its file system flushing) must be in the
 * snapshot, what it writes once thawed must not, and the thaw must come before the REST answer.
 */
class GuestFreezeIT {
    private static final long DISK = 8L << 20;

    @TempDir
    Path dir;

    @BeforeAll
    static void clients() {
        Tool.require("qemu-img", "qemu-io", "nbdcopy");
    }

    @Test
    void aRequiredFreezeMakesAnApplicationConsistentSnapshotThawedBeforeTheAnswer() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir);
                GuestAgentEndpoint agent = GuestAgentEndpoint.listen(agentSocket(daemon, "vm1"))) {
            attachWithAgent(daemon, "vm1", agent.socket());
            String active = daemon.nbdUri("vm1");
            NbdDriver.write(active, "-P 0x11 0 1M");
            agent.during(GuestAgentEndpoint.FREEZE, () -> NbdDriver.write(active, "-P 0xaa 0 64k"))
                    .during(GuestAgentEndpoint.THAW, () -> NbdDriver.write(active, "-P 0xbb 0 64k"));

            JsonNode job = daemon.rest().startJob(freeze(RestClient.jobRequest("c1", "vm1"), "required"));
            assertEquals(List.of(GuestAgentEndpoint.FREEZE, GuestAgentEndpoint.THAW), agent.freezesAndThaws(),
                    "frozen once and thawed before the job's answer");
            assertFalse(agent.frozen());
            assertEquals("application", job.get("consistency").asText(), job.toString());
            assertTrue(job.get("frozenMillis").asLong() >= 0, job.toString());

            Path snapshot = NbdDriver.copy(daemon.fleeceUri(job, "vm1"), dir.resolve("snap.raw"));
            assertEquals((byte) 0xaa, Files.readAllBytes(snapshot)[0], "written while freezing: in the snapshot");
            Path now = NbdDriver.copy(active, dir.resolve("now.raw"));
            assertEquals((byte) 0xbb, Files.readAllBytes(now)[0], "written after the thaw: on the disk only");
            assertEquals(1.0, daemon.rest().metric("fleeced_guest_freezes_total"));
            assertEquals("application", daemon.rest().finish(job.get("id").asText(), "success")
                    .get("consistency").asText(), "the ended job keeps its consistency");
        }
    }

    @Test
    void aRequiredFreezeThatFailsRefusesTheJobThawsAndLeavesNothing() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir);
                GuestAgentEndpoint agent = GuestAgentEndpoint.listen(agentSocket(daemon, "vm1"))) {
            attachWithAgent(daemon, "vm1", agent.socket());
            agent.script(GuestAgentEndpoint.FREEZE, Behaviour.FAIL);

            assertRefusedThawedAndNothingLeft(daemon, agent, freeze(RestClient.jobRequest("c1", "vm1"), "required"),
                    "scripted failure");
            JsonNode retry = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1"));
            assertEquals("crash", retry.get("consistency").asText(), "freeze off: crash-consistent");
            assertEquals(List.of(GuestAgentEndpoint.FREEZE, GuestAgentEndpoint.THAW), agent.freezesAndThaws(),
                    "freeze off sends nothing to the agent");
        }
    }

    @Test
    void anUnreachableAgentRefusesARequiredFreezeAndATryRunsCrashConsistent() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            attachWithAgent(daemon, "vm1", agentSocket(daemon, "nobody-listens"));
            RestClient.Problem refused = daemon.rest().post("v1/jobs", freeze(RestClient.jobRequest("c1", "vm1"),
                    "required")).expect(502).problem();
            assertEquals("GUEST_AGENT", refused.reason());
            JsonNode tried = daemon.rest().startJob(freeze(RestClient.jobRequest("c1", "vm1"), "try"));
            assertEquals("crash", tried.get("consistency").asText(), tried.toString());
            assertEquals(0, tried.get("frozenMillis").asLong());
            assertTrue(daemon.log().contains("guest freeze failed"), daemon.log());
        }
    }

    @Test
    void aHungFreezeTimesOutAndTheAgentIsThawedAnyway() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir);
                GuestAgentEndpoint agent = GuestAgentEndpoint.listen(agentSocket(daemon, "vm1"))) {
            attachWithAgent(daemon, "vm1", agent.socket());
            agent.script(GuestAgentEndpoint.FREEZE, Behaviour.HANG);
            ObjectNode request = freeze(RestClient.jobRequest("c1", "vm1"), "try").put("freezeTimeoutSeconds", 1);
            JsonNode job = daemon.rest().startJob(request);
            assertEquals("crash", job.get("consistency").asText(), job.toString());
            // the hung freeze may still freeze the guest later: a thaw is sent on a new session
            await("a thaw after the timed-out freeze").atMost(Duration.ofSeconds(30))
                    .until(() -> agent.freezesAndThaws().contains(GuestAgentEndpoint.THAW));
            assertTrue(daemon.log().contains("no answer within 1000 ms"), daemon.log());
        }
    }

    @Test
    void aHungFreezeRefusesARequiredJobAtItsTimeoutAndTheAgentIsThawed() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir);
                GuestAgentEndpoint agent = GuestAgentEndpoint.listen(agentSocket(daemon, "vm1"))) {
            attachWithAgent(daemon, "vm1", agent.socket());
            agent.script(GuestAgentEndpoint.FREEZE, Behaviour.HANG);
            // the hung freeze may still freeze the guest later: a thaw is sent on a new session
            assertRefusedThawedAndNothingLeft(daemon, agent, freeze(RestClient.jobRequest("c1", "vm1"), "required")
                    .put("freezeTimeoutSeconds", 1), "no answer within 1000 ms");
        }
    }

    /**
     * SIGTERM while a job start waits for a freeze the agent never answers (the timeout is the
     * longest allowed, so only the shutdown ends the wait): the daemon thaws the agent before it
     * exits, since the guest may have frozen without saying so.
     */
    @Test
    void aSigtermWhileAFreezeIsPendingThawsTheAgentBeforeTheDaemonExits() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir);
                GuestAgentEndpoint agent = GuestAgentEndpoint.listen(agentSocket(daemon, "vm1"))) {
            attachWithAgent(daemon, "vm1", agent.socket());
            agent.script(GuestAgentEndpoint.FREEZE, Behaviour.HANG);
            ObjectNode request = freeze(RestClient.jobRequest("c1", "vm1"), "required").put("freezeTimeoutSeconds", 600);
            Thread starting = Thread.ofVirtual().start(() -> {
                try {
                    daemon.rest().post("v1/jobs", request);
                } catch (Exception e) {
                    // the daemon stopped under the request: what it answered, if anything, is not the point
                }
            });
            await("the freeze reaches the agent").atMost(Duration.ofSeconds(60))
                    .until(() -> agent.calls().contains(GuestAgentEndpoint.FREEZE));

            assertEquals(0, daemon.stop(), "a clean stop: " + daemon.log());
            assertFalse(daemon.alive());
            assertEquals(List.of(GuestAgentEndpoint.FREEZE, GuestAgentEndpoint.THAW), agent.freezesAndThaws(),
                    "thawed before the daemon exited: " + daemon.log());
            starting.join();
        }
    }

    @Test
    void aThawThatFailsIsReportedAndRetriedUntilItWorks() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir);
                GuestAgentEndpoint agent = GuestAgentEndpoint.listen(agentSocket(daemon, "vm1"));
                EventStream events = EventStream.open(daemon)) {
            attachWithAgent(daemon, "vm1", agent.socket());
            agent.script(GuestAgentEndpoint.THAW, Behaviour.FAIL, Behaviour.FAIL);
            JsonNode job = daemon.rest().startJob(freeze(RestClient.jobRequest("c1", "vm1"), "required"));
            String id = job.get("id").asText();
            assertEquals("application", job.get("consistency").asText(), "the snapshot was taken frozen");
            await("the thaw retried until the guest is thawed").atMost(Duration.ofSeconds(60))
                    .until(() -> !agent.frozen());
            assertEquals(3, agent.freezesAndThaws().stream().filter(GuestAgentEndpoint.THAW::equals).count(),
                    agent.calls().toString());
            assertTrue(daemon.rest().metric("fleeced_guest_thaw_failures_total") >= 2);
            assertTrue(daemon.log().contains("thaw failed"), daemon.log());
            assertEquals(0.0, daemon.rest().metric("fleeced_guests_frozen"));
            await("both failed thaws announced").atMost(Duration.ofSeconds(60))
                    .until(() -> events.all("guest-thaw-failed", id).size() == 2);
            EventStream.Event failed = events.find("guest-thaw-failed", id);
            assertEquals(agent.socket().toString(), failed.data().get("agent").asText(), failed.toString());
            assertTrue(failed.data().get("error").asText().contains("scripted failure"), failed.toString());
            await("guest-thawed from the retry that thawed").atMost(Duration.ofSeconds(60))
                    .until(() -> events.has("guest-thawed", id));
            assertEquals(3, events.find("guest-thawed", id).data().get("attempts").asInt());
            assertEquals(List.of("guest-thaw-failed", "guest-thaw-failed", "guest-thawed"),
                    events.types().stream().filter(t -> t.startsWith("guest-thaw")).toList(),
                    "no guest-thawed while the guest was still frozen");
        }
    }

    @Test
    void theAgentSocketIsConfinedRequiredNeedsOneOnEveryDiskAndItIsRemembered() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            Path image = daemon.images().resolve("vm1.qcow2");
            Tool.run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), Long.toString(DISK)).ok();
            RestClient.Problem outside = daemon.rest().post("v1/disks", Map.of("name", "vm1", "path", image.toString(),
                    "format", "qcow2", "guestAgent", Map.of("socket", dir.resolve("elsewhere.sock").toString())))
                    .expect(403).problem();
            assertEquals("PATH_NOT_ALLOWED", outside.reason(), outside.toString());

            daemon.rest().attach("plain", createImage(daemon, "plain"), "qcow2");
            RestClient.Problem noAgent = daemon.rest().post("v1/jobs", freeze(RestClient.jobRequest("c1", "plain"),
                    "required")).expect(400).problem();
            assertEquals("INVALID_JOB", noAgent.reason(), noAgent.toString());

            Path socket = agentSocket(daemon, "vm1");
            attachWithAgent(daemon, "vm1", socket);
            assertEquals(socket.toString(), daemon.rest().disk("vm1").at("/guestAgent/socket").asText());
            assertEquals(0, daemon.stop());
            daemon.restart();
            assertEquals(socket.toString(), daemon.rest().disk("vm1").at("/guestAgent/socket").asText(),
                    "remembered across a restart");
        }
    }

    /**
     * A required freeze the agent did not do: refused with 502 GUEST_AGENT naming {@code why}, the
     * agent thawed all the same, and nothing created (no checkpoint, no temp image).
     */
    private static void assertRefusedThawedAndNothingLeft(DaemonUnderTest daemon, GuestAgentEndpoint agent,
            ObjectNode request, String why) throws Exception {
        RestClient.Problem refused = daemon.rest().post("v1/jobs", request).expect(502).problem();
        assertEquals("GUEST_AGENT", refused.reason(), refused.toString());
        assertTrue(refused.detail().contains(why), refused.detail());
        await("the thaw after the freeze that was not done").atMost(Duration.ofSeconds(30))
                .until(() -> agent.freezesAndThaws().contains(GuestAgentEndpoint.THAW));
        assertEquals(0, daemon.rest().bitmaps("vm1").size(), "no checkpoint was created");
        try (var temps = Files.list(daemon.tempDir())) {
            assertEquals(List.of(), temps.toList(), "no temp image was left");
        }
    }

    private static Path agentSocket(DaemonUnderTest daemon, String name) {
        return daemon.dir().resolve("state").resolve("agents").resolve(name + ".sock");
    }

    private static Path createImage(DaemonUnderTest daemon, String name) throws Exception {
        Path image = daemon.images().resolve(name + ".qcow2");
        Tool.run("qemu-img", "create", "-q", "-f", "qcow2", image.toString(), Long.toString(DISK)).ok();
        return image;
    }

    private static void attachWithAgent(DaemonUnderTest daemon, String name, Path socket) throws Exception {
        daemon.rest().post("v1/disks", Map.of("name", name, "path", createImage(daemon, name).toString(),
                "format", "qcow2", "guestAgent", Map.of("socket", socket.toString()))).expect(201);
    }

    private static ObjectNode freeze(ObjectNode request, String mode) {
        return request.put("freeze", mode);
    }
}
