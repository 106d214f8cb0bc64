package org.fleeced.daemon.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.fleeced.daemon.app.JobHistoryJson;
import org.fleeced.daemon.host.AllowedPaths;
import org.fleeced.daemon.host.BackupChains;
import org.fleeced.daemon.host.DiskTable;
import org.fleeced.daemon.host.ReadLimits;
import org.fleeced.daemon.host.GuestFreezer;
import org.fleeced.daemon.host.JobHistory;
import org.fleeced.daemon.host.JobTable;
import org.fleeced.daemon.host.ProblemReason;
import org.fleeced.daemon.host.StartupRecovery;
import org.fleeced.daemon.host.NbdEndpoints;
import org.fleeced.daemon.host.ReservedFiles;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.daemon.nbd.server.NbdServerStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every operation of openapi.yaml has a handler in the daemon, and every handler an operation. */
class DaemonApiBindingTest {
    @TempDir
    Path dir;

    @Test
    void theDaemonBindsExactlyTheOperationsOfTheSpec() throws Exception {
        DaemonApi api = newApi();
        assertEquals(ApiContract.load().operationIds(), api.boundOperations());
        Map<String, ApiOperation> none = Map.of();
        RestApi.checkBindings(api.boundOperations(), api.boundOperations(), none.keySet());
    }

    /** A stopping daemon refuses new work at once, while it still ends its jobs and streams. */
    @Test
    void onceStoppingEveryOperationButHealthIsRefusedAsShuttingDown() throws Exception {
        DaemonApi api = newApi();
        ApiProblem starting = assertThrows(ApiProblem.class, () -> api.operation("listDisks").handle(null));
        assertEquals(ProblemReason.STARTING, starting.reason(), "not started yet: " + starting.getMessage());

        api.refuseRequests();
        for (String id : List.of("listDisks", "startJob", "attachDisk")) {
            ApiProblem refused = assertThrows(ApiProblem.class, () -> api.operation(id).handle(null), id);
            assertEquals(ProblemReason.SHUTTING_DOWN, refused.reason(), id + ": " + refused.getMessage());
        }
    }

    private DaemonApi newApi() throws Exception {
        NbdExportRegistry exports = new NbdExportRegistry();
        DiskTable disks = new DiskTable(new AllowedPaths("image", List.of(dir)), new AllowedPaths("guest agent", List.of(dir)),
                new ReservedFiles(dir.resolve("state"), List.of(dir), List.of(dir.resolve("temp"))), exports, entries -> { },
                (type, data) -> { });
        JobHistory history = JobHistory.open(dir, new JobHistoryJson(), Clock.systemUTC());
        AllowedPaths temps = new AllowedPaths("temp", List.of(dir));
        JobTable jobs = new JobTable(disks, exports, temps, new AllowedPaths("backup", List.of(dir)),
                null, BackupChains.open(dir), (type, data) -> { }, Clock.systemUTC(), history,
                new GuestFreezer((type, data) -> { }, java.time.Duration.ofSeconds(10)));
        DaemonApi api = new DaemonApi(disks, jobs, new NbdEndpoints("127.0.0.1", 10809, null, false),
                new NbdServerStats(), new EventStream(),
                new JobDefaults("raw", 0, 0, 7200, 45, "break-snapshot", 10, ReadLimits.NONE, 4),
                new StartupRecovery(history, temps, new AllowedPaths("backup", List.of(dir)), disks, List.of()));
        return api;
    }
}
