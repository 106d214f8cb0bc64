package org.fleeced.daemon.api;

import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.fleeced.cbw.FleeceStats;
import org.fleeced.daemon.host.DiskTable;
import org.fleeced.daemon.host.GuestFreezer;
import org.fleeced.daemon.host.HostedJob;
import org.fleeced.daemon.host.JobRecord;
import org.fleeced.daemon.host.JobTable;
import org.fleeced.daemon.host.StartupRecovery;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.server.NbdServerStats;
import org.fleeced.job.JobState;

/** getHealth, getMetrics and streamEvents. */
final class ServiceOperations {
    private final DiskTable disks;
    private final JobTable jobs;
    private final NbdServerStats nbd;
    private final EventStream events;
    private final StartupRecovery startup;

    ServiceOperations(DiskTable disks, JobTable jobs, NbdServerStats nbd, EventStream events, StartupRecovery startup) {
        this.disks = disks;
        this.startup = startup;
        this.jobs = jobs;
        this.nbd = nbd;
        this.events = events;
    }

    void bind(Map<String, ApiOperation> ops, Map<String, Handler<RoutingContext>> streams) {
        ops.put("getHealth", req -> health());
        streams.put("getMetrics", ctx -> Thread.ofVirtual().start(() -> ctx.response()
                .putHeader("content-type", "text/plain; version=0.0.4")
                .end(metrics())));
        streams.put("streamEvents", events::subscribe);
        streams.put("getStatusPage", StatusPage::serve);
    }

    /** 503 "starting" until the start's recovery is done, then 200 "ok" with what it recovered. */
    private ApiResponse health() {
        Optional<StartupRecovery.Report> report = startup.report();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", report.isPresent() ? "ok" : "starting");
        body.put("disks", disks.list().size());
        body.put("jobs", jobs.runningCount());
        report.ifPresent(r -> body.put("recovered", r));
        return new ApiResponse(report.isPresent() ? 200 : 503, body);
    }

    String metrics() {
        PrometheusText p = new PrometheusText();
        p.gauge("fleeced_nbd_connections", "Open NBD connections.", nbd.activeConnections());
        p.counter("fleeced_nbd_connections_total", "NBD connections accepted.", nbd.connectionsAccepted());
        p.counter("fleeced_nbd_bytes_in_total", "Bytes received from NBD clients.", nbd.bytesIn());
        p.counter("fleeced_nbd_bytes_out_total", "Bytes sent to NBD clients.", nbd.bytesOut());
        p.family("fleeced_nbd_requests_total", "NBD requests by command.", "counter");
        for (NbdCommand c : NbdCommand.values()) {
            p.sample("fleeced_nbd_requests_total", Map.of("command", c.name()), nbd.requests(c));
        }
        p.gauge("fleeced_disks", "Attached disks.", disks.list().size());
        Map<String, Integer> byState = new LinkedHashMap<>();
        for (JobRecord job : jobs.list()) {
            byState.merge(job.state(), 1, Integer::sum);
        }
        FleeceStats total = jobs.statsOfAllJobs();
        p.family("fleeced_jobs", "Fleecing jobs known to the daemon, by state.", "gauge");
        for (JobState state : JobState.values()) {
            String name = state.name().toLowerCase(Locale.ROOT);
            p.sample("fleeced_jobs", Map.of("state", name), byState.getOrDefault(name, 0));
        }
        p.counter("fleeced_cbw_copies_total", "Clusters copied before a guest write.", total.clustersCopied());
        p.family("fleeced_push_bytes_written_total", "Bytes push jobs wrote to their targets, by disk.", "counter");
        jobs.pushBytesWritten().forEach((disk, bytes) ->
                p.sample("fleeced_push_bytes_written_total", Map.of("disk", disk), bytes));
        p.gauge("fleeced_temp_bytes", "Bytes held in temp images.", jobs.statsOfRunningJobs().tempBytes());
        p.counter("fleeced_cbw_delayed_writes_total", "Guest writes that waited for a copy.", total.writesDelayedByCbw());
        p.counter("fleeced_cbw_delay_seconds_total", "Time guest writes waited for copies.", total.cbwDelayNanos() / 1e9);
        p.counter("fleeced_frozen_read_delayed_writes_total", "Guest writes that waited for a snapshot read.",
                total.writesDelayedByReads());
        p.counter("fleeced_frozen_read_delay_seconds_total", "Time guest writes waited for snapshot reads.",
                total.readDelayNanos() / 1e9);
        p.family("fleeced_job_read_limit_bytes_per_second",
                "The byte rate a running job's reader is held to now (fixed or adaptive); 0 for none.", "gauge");
        p.family("fleeced_job_guest_write_p99_seconds",
                "The p99 write latency of a running job's slowest guest over the last 2 s.", "gauge");
        for (HostedJob job : jobs.running()) {
            if (job.throttle() == null) {
                continue; // a push job has no reader to limit
            }
            p.sample("fleeced_job_read_limit_bytes_per_second", Map.of("job", job.id()),
                    job.throttle().effectiveBytesPerSecond());
            long p99 = job.throttle().guestWriteP99Micros();
            if (p99 >= 0) {
                p.sample("fleeced_job_guest_write_p99_seconds", Map.of("job", job.id()), p99 / 1e6);
            }
        }
        GuestFreezer guests = jobs.freezer();
        p.counter("fleeced_guest_freezes_total", "Guest agents frozen for a job's snapshot.", guests.freezes());
        p.counter("fleeced_guest_freeze_failures_total", "Job starts whose guest freeze failed.",
                guests.freezeFailures());
        p.counter("fleeced_guest_thaw_failures_total", "Thaws that failed (each is retried).", guests.thawFailures());
        p.counter("fleeced_guest_frozen_seconds_total", "Time guests were frozen for snapshots.",
                guests.frozenMillisTotal() / 1e3);
        p.gauge("fleeced_guests_frozen", "Guest agents frozen now (or whose thaw is being retried).",
                guests.frozenAgents().size());
        return p.toString();
    }
}
