package org.fleeced.daemon.api;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.fleeced.daemon.app.DaemonConfig;
import org.fleeced.daemon.host.DiskTable;
import org.fleeced.daemon.host.JobTable;
import org.fleeced.daemon.host.NbdEndpoints;
import org.fleeced.daemon.nbd.server.NbdServerStats;

/** The daemon's REST API: every operation of openapi.yaml bound to its handler. */
public final class DaemonApi {
    private final Map<String, ApiOperation> operations = new HashMap<>();
    private final Map<String, Handler<RoutingContext>> streams = new HashMap<>();

    public DaemonApi(DiskTable disks, JobTable jobs, NbdEndpoints nbd, NbdServerStats nbdStats, EventStream events,
            DaemonConfig.Defaults defaults) {
        BitmapOperations bitmaps = new BitmapOperations(disks);
        bitmaps.bind(operations);
        new DiskOperations(disks, jobs, nbd, bitmaps).bind(operations);
        new JobOperations(jobs, nbd, defaults).bind(operations);
        new ServiceOperations(disks, jobs, nbdStats, events).bind(operations, streams);
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
