package org.fleeced.daemon.host;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.fleeced.daemon.guest.GuestAgentEndpoint;
import org.fleeced.job.SnapshotQuiescer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link JobFreeze} against a QGA endpoint on a real unix socket. The snapshot point is the time
 * between {@code quiesce} and {@code resume}, which a test holds open as long as it likes: so the
 * watchdog that thaws the guests when the snapshot outlasts {@code freezeTimeoutSeconds} can be
 * seen at work, which nothing outside the daemon can provoke (the snapshot point takes
 * milliseconds).
 */
class JobFreezeTest {
    /** How long a thaw may take to arrive on a loaded machine: a limit for a hang, not a speed. */
    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @TempDir
    Path dir;
    final List<String> events = new CopyOnWriteArrayList<>();
    GuestFreezer freezer;

    @BeforeEach
    void createFreezer() {
        freezer = new GuestFreezer((type, data) -> events.add(type), Duration.ofSeconds(10));
    }

    @AfterEach
    void stopFreezer() {
        freezer.thawAll("the test's end");
    }

    @Test
    void aSnapshotThatOutlastsTheTimeoutIsThawedByTheWatchdogAndIsCrashConsistent() throws Exception {
        try (GuestAgentEndpoint agent = GuestAgentEndpoint.listen(dir.resolve("vm1.sock"))) {
            JobFreeze freeze = freezer.forJob(FreezeMode.REQUIRED, List.of(agent.socket()), true, Duration.ofMillis(200));
            SnapshotQuiescer.Quiesced quiesced = freeze.quiesce("job1");
            // the snapshot point stays open: only the watchdog can thaw the guest
            await("the watchdog's thaw").atMost(PATIENCE)
                    .until(() -> agent.freezesAndThaws().equals(List.of(GuestAgentEndpoint.FREEZE, GuestAgentEndpoint.THAW)));
            assertFalse(agent.frozen());
            assertTrue(freeze.overran(), "the snapshot outlasted the freeze");
            assertTrue(events.contains("guest-freeze-overrun"), events.toString());
            await("the agent no longer counted frozen").atMost(PATIENCE).until(() -> freezer.frozenAgents().isEmpty());

            quiesced.resume();
            assertEquals("crash", freeze.consistency(), "thawed before the snapshot: crash-consistent");
            assertEquals(List.of(GuestAgentEndpoint.FREEZE, GuestAgentEndpoint.THAW), agent.freezesAndThaws(),
                    "the snapshot's end thaws nothing more");
        }
    }

    /**
     * A stop while two guests are frozen (their jobs' snapshot points still open) and one agent
     * never answers its thaw (within a timeout longer than any test): the other guest is thawed
     * all the same, while the first still hangs. Once the hung agent goes away, its failure is
     * reported and it stays counted as frozen.
     */
    @Test
    void aStopThawsEveryFrozenGuestAndAHungAgentHoldsNoOtherBack() throws Exception {
        GuestFreezer stopping = new GuestFreezer((type, data) -> events.add(type), Duration.ofSeconds(600));
        try (GuestAgentEndpoint hung = GuestAgentEndpoint.listen(dir.resolve("vm1.sock"));
                GuestAgentEndpoint answering = GuestAgentEndpoint.listen(dir.resolve("vm2.sock"))) {
            stopping.forJob(FreezeMode.REQUIRED, List.of(hung.socket()), true, Duration.ofSeconds(600)).quiesce("job1");
            stopping.forJob(FreezeMode.REQUIRED, List.of(answering.socket()), true, Duration.ofSeconds(600))
                    .quiesce("job2");
            hung.script(GuestAgentEndpoint.THAW, GuestAgentEndpoint.Behaviour.HANG);

            Thread stop = Thread.ofVirtual().start(() -> stopping.thawAll("shutdown"));
            await("the answering guest thawed while the other agent hangs").atMost(PATIENCE)
                    .until(() -> !answering.frozen());
            await("the hung agent asked too").atMost(PATIENCE)
                    .until(() -> hung.freezesAndThaws().contains(GuestAgentEndpoint.THAW));
            assertTrue(stop.isAlive(), "the stop waits for the hung agent");
            hung.close();
            stop.join();
            assertEquals(List.of(hung.socket()), List.copyOf(stopping.frozenAgents()), "the hung agent may still be frozen");
            assertTrue(events.contains("guest-thaw-failed"), events.toString());
        }
    }

    @Test
    void aSnapshotWithinTheTimeoutIsApplicationConsistentAndThawedAtItsEnd() throws Exception {
        try (GuestAgentEndpoint agent = GuestAgentEndpoint.listen(dir.resolve("vm1.sock"))) {
            JobFreeze freeze = freezer.forJob(FreezeMode.REQUIRED, List.of(agent.socket()), true, Duration.ofSeconds(600));
            SnapshotQuiescer.Quiesced quiesced = freeze.quiesce("job1");
            assertEquals(List.of(GuestAgentEndpoint.FREEZE), agent.freezesAndThaws());
            assertTrue(agent.frozen(), "frozen while the snapshot point is open");

            quiesced.resume();
            assertEquals(List.of(GuestAgentEndpoint.FREEZE, GuestAgentEndpoint.THAW), agent.freezesAndThaws());
            assertFalse(agent.frozen());
            assertFalse(freeze.overran());
            assertEquals("application", freeze.consistency());
            assertTrue(events.contains("guest-thawed"), events.toString());
            assertEquals(List.of(), List.copyOf(freezer.frozenAgents()));
        }
    }
}
