package org.fleeced.daemon.api;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.fleeced.daemon.host.DiskTable;
import org.fleeced.daemon.host.JobTable;
import org.fleeced.daemon.host.ProblemReason;
import org.fleeced.daemon.host.SnapshotChecksums;
import org.fleeced.daemon.host.NbdEndpoints;
import org.fleeced.daemon.host.StartupRecovery;
import org.fleeced.daemon.nbd.server.NbdServerStats;

/** The daemon's REST API: every operation of openapi.yaml bound to its handler. */
public final class DaemonApi {
    private final Map<String, ApiOperation> operations = new HashMap<>();
    private final Map<String, Handler<RoutingContext>> streams = new HashMap<>();
    /** Set when the daemon starts stopping: from then on only /health answers. */
    private volatile boolean stopping;

    public DaemonApi(DiskTable disks, JobTable jobs, NbdEndpoints nbd, NbdServerStats nbdStats, EventStream events,
            JobDefaults defaults, StartupRecovery startup) {
        BitmapOperations bitmaps = new BitmapOperations(disks);
        bitmaps.bind(operations);
        new DiskOperations(disks, jobs, nbd, bitmaps).bind(operations);
        SnapshotChecksums checksums = new SnapshotChecksums(events::publish, Runtime.getRuntime().availableProcessors());
        new ChecksumOperations(disks, jobs, checksums).bind(operations);
        new JobOperations(jobs, nbd, defaults, checksums).bind(operations);
        new ServiceOperations(disks, jobs, nbdStats, events, startup).bind(operations, streams);
        // until the start has attached the remembered disks and cleaned up, and once the daemon
        // stops, only /health answers
        operations.replaceAll((id, op) -> id.equals("getHealth") ? op : req -> {
            if (stopping) {
                throw new ApiProblem(ProblemReason.SHUTTING_DOWN, "The daemon is stopping; retry after it restarts.");
            }
            if (!startup.ready()) {
                throw new ApiProblem(ProblemReason.STARTING, "The daemon is starting: it attaches its disks and "
                        + "cleans up after the last run; retry when GET /health answers 200.");
            }
            return op.handle(req);
        });
    }

    /**
     * Refuses every later request but /health with 503 SHUTTING_DOWN, while the connections stay
     * open: the daemon ends its jobs before it closes them, so that the event streams still carry
     * the jobs' ends (a connection-closing grace period started earlier could run out first).
     */
    public void refuseRequests() {
        stopping = true;
    }

    /** The handler bound to an operationId, for tests. */
    ApiOperation operation(String operationId) {
        return operations.get(operationId);
    }

    /** The operationIds this API has handlers for. */
    public java.util.Set<String> boundOperations() {
        java.util.Set<String> all = new java.util.TreeSet<>(operations.keySet());
        all.addAll(streams.keySet());
        return all;
    }

    public Router router(Vertx vertx, ApiContract contract, List<String> tokens, long maxBodyBytes) {
        return RestApi.router(vertx, contract, operations, streams, tokens, maxBodyBytes);
    }
}
