package org.fleeced.daemon.host;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;
import org.fleeced.daemon.guest.GuestAgentClient;
import org.fleeced.daemon.guest.GuestAgentException;

/**
 * The daemon's side of guest freezes: which guest agents are frozen now, and the thaws that must
 * still happen. A thaw that fails is reported (log and event {@code guest-thaw-failed}) and
 * retried with backoff until it succeeds or {@link #RETRY_FOR} has passed; at shutdown
 * {@link #thawAll} thaws whatever is still frozen. Each job's freeze is a {@link JobFreeze}.
 *
 * <p>Thread-safe.
 */
public final class GuestFreezer {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.guest");
    /** How long a failed thaw is retried: a guest frozen longer than this is beyond help from here. */
    static final Duration RETRY_FOR = Duration.ofMinutes(10);
    private static final Duration FIRST_RETRY = Duration.ofSeconds(1);
    private static final Duration MAX_RETRY_GAP = Duration.ofSeconds(30);

    private final Events events;
    private final Duration defaultTimeout;
    /** Agents frozen (or maybe frozen: a freeze that timed out) and not yet thawed, with the job. */
    private final Map<Path, String> frozen = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "guest-freeze-timers");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong freezes = new AtomicLong();
    private final AtomicLong freezeFailures = new AtomicLong();
    private final AtomicLong thawFailures = new AtomicLong();
    private final AtomicLong frozenMillisTotal = new AtomicLong();

    public GuestFreezer(Events events, Duration defaultTimeout) {
        this.events = events;
        this.defaultTimeout = defaultTimeout;
    }

    /**
     * The freeze of one job's guests: {@code agents} are the sockets its disks name (one freeze per
     * distinct socket); {@code everyDiskCovered} says whether each disk of the job names one.
     */
    public JobFreeze forJob(FreezeMode mode, Collection<Path> agents, boolean everyDiskCovered, Duration timeout) {
        return new JobFreeze(this, mode, List.copyOf(new java.util.LinkedHashSet<>(agents)), everyDiskCovered,
                timeout != null ? timeout : defaultTimeout);
    }

    /**
     * Thaws every agent still frozen (the daemon is stopping), all at once: an agent that does not
     * answer holds the stop up for one timeout, and never holds up the thaw of another guest.
     * Failures are logged.
     */
    public void thawAll(String why) {
        try (ExecutorService each = Executors.newVirtualThreadPerTaskExecutor()) {
            for (Map.Entry<Path, String> e : Map.copyOf(frozen).entrySet()) {
                each.submit(() -> {
                    if (!thawOnce(e.getKey(), e.getValue(), defaultTimeout)) {
                        LOG.severe("guest agent " + e.getKey() + " of job " + e.getValue() + ": still frozen at " + why
                                + "; thaw it by hand (guest-fsfreeze-thaw)");
                    }
                });
            }
        }
        timers.shutdownNow();
    }

    /** Agents frozen now (tests and the API's health view). */
    public Set<Path> frozenAgents() {
        return Set.copyOf(frozen.keySet());
    }

    public long freezes() {
        return freezes.get();
    }

    public long freezeFailures() {
        return freezeFailures.get();
    }

    public long thawFailures() {
        return thawFailures.get();
    }

    public long frozenMillisTotal() {
        return frozenMillisTotal.get();
    }

    ScheduledExecutorService timers() {
        return timers;
    }

    void frozen(Path agent, String job) {
        frozen.put(agent, job);
        freezes.incrementAndGet();
    }

    void freezeFailed() {
        freezeFailures.incrementAndGet();
    }

    void wasFrozenFor(long millis) {
        frozenMillisTotal.addAndGet(millis);
    }

    void maybeFrozen(Path agent, String job) {
        frozen.put(agent, job);
    }

    void thawed(Path agent) {
        frozen.remove(agent);
    }

    void eventsPublish(String type, Map<String, ?> data) {
        events.publish(type, data);
    }

    /** Thaws {@code agent}; on failure reports it and keeps retrying in the background. */
    void thaw(Path agent, String job, Duration timeout) {
        if (!thawOnce(agent, job, timeout)) {
            retry(agent, job, timeout, FIRST_RETRY, System.nanoTime() + RETRY_FOR.toNanos(), 1);
        }
    }

    /** A thaw on the freeze's own session failed: reports it and retries on new sessions. */
    void thawFailed(Path agent, String job, Duration timeout, GuestAgentException error) {
        reportThawFailure(agent, job, error);
        retry(agent, job, timeout, FIRST_RETRY, System.nanoTime() + RETRY_FOR.toNanos(), 1);
    }

    private void retry(Path agent, String job, Duration timeout, Duration gap, long giveUpAt, int attempt) {
        try {
            timers.schedule(() -> Thread.ofVirtual().start(() -> {
                if (!frozen.containsKey(agent)) {
                    return;
                }
                if (thawOnce(agent, job, timeout)) {
                    LOG.info("guest agent " + agent + " of job " + job + ": thawed at retry " + attempt);
                    if (!frozen.containsValue(job)) {
                        events.publish("guest-thawed", Map.of("job", job, "agent", agent.toString(), "attempts",
                                attempt + 1));
                    }
                    return;
                }
                if (System.nanoTime() - giveUpAt > 0) {
                    LOG.severe("guest agent " + agent + " of job " + job + ": gave up thawing after " + attempt
                            + " attempts; the guest's file systems may still be frozen: thaw them by hand");
                    events.publish("guest-thaw-abandoned", Map.of("job", job, "agent", agent.toString()));
                    return;
                }
                Duration next = gap.multipliedBy(2).compareTo(MAX_RETRY_GAP) > 0 ? MAX_RETRY_GAP : gap.multipliedBy(2);
                retry(agent, job, timeout, next, giveUpAt, attempt + 1);
            }), gap.toMillis(), TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            LOG.severe("guest agent " + agent + " of job " + job + ": the daemon stops before the thaw could be"
                    + " retried; thaw it by hand");
        }
    }

    /** One thaw on a new session; true when the agent is thawed. */
    boolean thawOnce(Path agent, String job, Duration timeout) {
        try (GuestAgentClient client = GuestAgentClient.connect(agent, timeout)) {
            client.thaw();
            frozen.remove(agent);
            return true;
        } catch (GuestAgentException e) {
            reportThawFailure(agent, job, e);
            return false;
        }
    }

    private void reportThawFailure(Path agent, String job, GuestAgentException e) {
        thawFailures.incrementAndGet();
        LOG.severe("guest agent " + agent + " of job " + job + ": thaw failed: " + e.getMessage() + "; retrying");
        events.publish("guest-thaw-failed", Map.of("job", job, "agent", agent.toString(), "error", e.getMessage()));
    }
}
