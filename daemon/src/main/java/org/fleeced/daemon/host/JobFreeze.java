package org.fleeced.daemon.host;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;
import org.fleeced.daemon.guest.GuestAgentClient;
import org.fleeced.daemon.guest.GuestAgentException;
import org.fleeced.job.SnapshotQuiescer;

/**
 * One job's guest freeze, around its snapshot point: {@code guest-fsfreeze-freeze} to every
 * distinct agent of the job's disks (in parallel), the snapshot, then {@code guest-fsfreeze-thaw}
 * at once. What it achieved is {@link #consistency()} ({@code application} only when every agent
 * froze and none was thawed early) and {@link #frozenMillis()}.
 *
 * <p>Thaws happen on every path: after the snapshot, after a failed freeze (an agent that timed
 * out may freeze late, so it is thawed too), and from a watchdog when the snapshot takes longer
 * than the timeout (the guests must not wait on fleeced; the job is then crash-consistent).
 */
public final class JobFreeze implements SnapshotQuiescer {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.guest");

    private final GuestFreezer freezer;
    private final FreezeMode mode;
    private final List<Path> agents;
    /** Whether every disk of the job names an agent: else the snapshot cannot be application-consistent. */
    private final boolean everyDiskCovered;
    private final Duration timeout;
    /** The job's id, known once its start calls {@link #quiesce}. */
    private volatile String job = "(starting)";
    private volatile boolean application;
    private volatile long frozenMillis;
    private volatile boolean overran;

    JobFreeze(GuestFreezer freezer, FreezeMode mode, List<Path> agents, boolean everyDiskCovered, Duration timeout) {
        this.freezer = freezer;
        this.mode = mode;
        this.agents = agents;
        this.everyDiskCovered = everyDiskCovered;
        this.timeout = timeout;
    }

    /** {@code application} when the guests were frozen for the snapshot, else {@code crash}. */
    public String consistency() {
        return application ? "application" : "crash";
    }

    /** How long the guests were frozen, from the first freeze answered to the last thaw; 0 without a freeze. */
    public long frozenMillis() {
        return frozenMillis;
    }

    /** The mode the job asked for. */
    public FreezeMode mode() {
        return mode;
    }

    /** Whether the watchdog thawed the guests before the snapshot was taken. */
    public boolean overran() {
        return overran;
    }

    @Override
    public Quiesced quiesce(String jobId) throws QuiesceRefusedException {
        this.job = jobId;
        if (mode == FreezeMode.OFF || agents.isEmpty()) {
            return () -> { };
        }
        long started = System.nanoTime();
        Map<Path, GuestAgentClient> frozen = new LinkedHashMap<>();
        Map<Path, String> failed = new LinkedHashMap<>();
        freezeAll(frozen, failed);
        if (!failed.isEmpty()) {
            freezer.freezeFailed();
            frozen.forEach((agent, client) -> thaw(agent, client));
            failed.keySet().forEach(agent -> freezer.thaw(agent, job, timeout));
            String why = failed.entrySet().stream().map(e -> e.getKey() + ": " + e.getValue()).toList().toString();
            freezer.eventsPublish("guest-freeze-failed", Map.of("job", job, "mode", mode.name().toLowerCase(
                    java.util.Locale.ROOT), "errors", failed.entrySet().stream()
                    .map(e -> Map.of("agent", e.getKey().toString(), "error", e.getValue())).toList()));
            if (mode == FreezeMode.REQUIRED) {
                throw new QuiesceRefusedException("freeze: required, and the guest could not be frozen: " + why);
            }
            LOG.warning("job " + job + ": guest freeze failed, the snapshot is crash-consistent: " + why);
            return () -> { };
        }
        long frozenAt = System.nanoTime();
        LOG.info("job " + job + ": guests frozen through " + agents + " in " + (frozenAt - started) / 1_000_000 + " ms");
        AtomicBoolean thawed = new AtomicBoolean();
        ScheduledFuture<?> watchdog;
        try {
            watchdog = freezer.timers().schedule(() -> Thread.ofVirtual().start(() -> {
                if (thawed.compareAndSet(false, true)) {
                    overran = true;
                    LOG.severe("job " + job + ": the snapshot took longer than the freeze timeout of "
                            + timeout.toMillis() + " ms; guests thawed before it, so it is crash-consistent");
                    freezer.eventsPublish("guest-freeze-overrun", Map.of("job", job, "timeoutMillis", timeout.toMillis()));
                    thawAll(frozen, frozenAt);
                }
            }), timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // the daemon is stopping (its timers are gone): no snapshot under a freeze nobody watches
            thawed.set(true);
            overran = true;
            thawAll(frozen, frozenAt);
            return () -> { };
        }
        return () -> {
            watchdog.cancel(false);
            if (thawed.compareAndSet(false, true)) {
                application = everyDiskCovered;
                thawAll(frozen, frozenAt);
            }
        };
    }

    private void freezeAll(Map<Path, GuestAgentClient> frozen, Map<Path, String> failed) {
        try (ExecutorService each = Executors.newVirtualThreadPerTaskExecutor()) {
            Map<Path, Future<GuestAgentClient>> pending = new LinkedHashMap<>();
            for (Path agent : agents) {
                freezer.maybeFrozen(agent, job);
                pending.put(agent, each.submit(() -> {
                    GuestAgentClient client = GuestAgentClient.connect(agent, timeout);
                    try {
                        client.freeze();
                        return client;
                    } catch (GuestAgentException e) {
                        client.close();
                        throw e;
                    }
                }));
            }
            for (Map.Entry<Path, Future<GuestAgentClient>> p : pending.entrySet()) {
                try {
                    frozen.put(p.getKey(), p.getValue().get());
                    freezer.frozen(p.getKey(), job);
                } catch (ExecutionException e) {
                    failed.put(p.getKey(), e.getCause().getMessage());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failed.put(p.getKey(), "interrupted");
                }
            }
        }
    }

    private void thawAll(Map<Path, GuestAgentClient> frozen, long frozenAt) {
        List<Thread> thaws = new ArrayList<>();
        AtomicBoolean failed = new AtomicBoolean();
        frozen.forEach((agent, client) -> thaws.add(Thread.ofVirtual().start(() -> {
            if (!thaw(agent, client)) {
                failed.set(true);
            }
        })));
        for (Thread t : thaws) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        frozenMillis = (System.nanoTime() - frozenAt) / 1_000_000;
        freezer.wasFrozenFor(frozenMillis);
        if (failed.get()) {
            // guest-thaw-failed said which; the retry that thaws the last of them says guest-thawed
            LOG.warning("job " + job + ": guests frozen for " + frozenMillis + " ms; a thaw failed and is retried");
            return;
        }
        LOG.info("job " + job + ": guests thawed, frozen for " + frozenMillis + " ms");
        freezer.eventsPublish("guest-thawed", Map.of("job", job, "frozenMillis", frozenMillis));
    }

    /**
     * Thaws on the freeze's session; when that fails, the freezer reports it and retries on new
     * ones. True when the guest is thawed.
     */
    private boolean thaw(Path agent, GuestAgentClient client) {
        try (client) {
            client.thaw();
            freezer.thawed(agent);
            return true;
        } catch (GuestAgentException e) {
            freezer.thawFailed(agent, job, timeout, e);
            return false;
        }
    }
}
