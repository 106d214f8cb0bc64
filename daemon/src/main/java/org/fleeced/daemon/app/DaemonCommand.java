package org.fleeced.daemon.app;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.fleeced.daemon.api.ApiContract;
import org.fleeced.throttle.AdaptiveReadLimit;
import org.fleeced.daemon.api.DaemonApi;
import org.fleeced.daemon.api.EventStream;
import org.fleeced.daemon.host.AllowedPaths;
import org.fleeced.daemon.host.BackupChains;
import org.fleeced.daemon.host.DiskTable;
import org.fleeced.daemon.host.GuestFreezer;
import org.fleeced.daemon.host.JobHistory;
import org.fleeced.daemon.host.JobTable;
import org.fleeced.daemon.host.NbdEndpoints;
import org.fleeced.daemon.host.RememberedDisks;
import org.fleeced.daemon.host.RestoreSources;
import org.fleeced.daemon.host.ReservedFiles;
import org.fleeced.daemon.host.StartupRecovery;
import org.fleeced.daemon.nbd.client.NbdClientTls;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.daemon.nbd.server.NbdServer;
import org.fleeced.daemon.nbd.server.NbdServerConfig;
import org.fleeced.daemon.nbd.server.NbdTlsConfig;
import picocli.CommandLine;

/**
 * {@code fleeced daemon [--config FILE]}: the composition root. Starts NBD (TCP and a Unix
 * socket) and REST at once, then attaches the configured and remembered disks in parallel and
 * cleans up after the previous run ({@link StartupRecovery}; {@code /health} answers 503
 * {@code starting} meanwhile), and runs until SIGINT or SIGTERM; then stops accepting, fails
 * running jobs with reason "shutdown" (their changes merged back), closes the images cleanly and
 * exits 0.
 */
final class DaemonCommand {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon");
    /**
     * How often the qcow2 bitmaps are stored in their images (an fsync of each image) so that
     * crash recovery starts from a recent point; guest flushes store them too, once enough
     * regions were marked.
     */
    /**
     * How long a stop waits for the REST requests in progress before it closes their connections
     * (the event streams are ended before that, once the jobs' ends are published on them).
     */
    private static final long REST_SHUTDOWN_SECONDS = 5;

    private DaemonCommand() {
    }

    /** Runs with the command line {@code args} (the AOT training run starts it this way). */
    static int run(String[] args, StopSignal stop) throws Exception {
        return run(CommandLine.populateCommand(new DaemonCli(), args), stop);
    }

    /** Runs until {@code stop} is requested (by SIGTERM or SIGINT when it is {@link StopSignal#install installed}). */
    static int run(DaemonCli cli, StopSignal stop) throws Exception {
        cli.check();
        DaemonConfig config = ConfigLoader.load(cli.config).resolved(Path.of("").toAbsolutePath());
        if (cli.restPort != null || cli.restBind != null || cli.nbdPort != null) {
            DaemonConfig.Nbd n = config.nbd();
            config = new DaemonConfig(config.stateDir(), new DaemonConfig.Rest(
                    cli.restBind != null ? cli.restBind : config.rest().bind(),
                    cli.restPort != null ? cli.restPort : config.rest().port(), config.rest().maxBodyBytes()),
                    new DaemonConfig.Nbd(n.bind(), cli.nbdPort != null ? cli.nbdPort : n.port(), n.socket(),
                            n.maxConnections(), n.handshakeTimeoutSeconds(), n.maxInFlightBytesTotal(),
                            n.requestTimeoutSeconds(), n.allowInsecure(), n.tls()),
                    config.tokens(), config.imageDirs(), config.tempDirs(), config.guestAgentDirs(),
                    config.backupDirs(), config.bitmapStoreSeconds(), config.nbdClientTls(), config.defaults(),
                    config.disks());
        }
        config.validate();
        NbdClientTls clientTls = config.nbdClientTls().load();
        createDirectories(config);
        return new DaemonCommand.Running(config, clientTls, stop).runUntilStopped();
    }

    /** The started daemon. */
    private static final class Running {
        private final DaemonConfig config;
        /** What nbds:// push targets and restore sources are checked with; null when not configured. */
        private final NbdClientTls clientTls;
        private final Vertx vertx = Vertx.vertx();
        private final NbdExportRegistry exports = new NbdExportRegistry();
        private final EventStream events = new EventStream();
        private final StopSignal stop;

        Running(DaemonConfig config, NbdClientTls clientTls, StopSignal stop) {
            this.config = config;
            this.clientTls = clientTls;
            this.stop = stop;
        }

        int runUntilStopped() throws Exception {
            DaemonConfig.Nbd n = config.nbd();
            Optional<NbdTlsConfig> tls = n.tls().enabled()
                    ? Optional.of(new NbdTlsConfig(n.tls().cert(), n.tls().key(), n.tls().ca(), n.tls().verifyClient(),
                            n.tls().required()))
                    : Optional.empty();
            NbdServer nbd = NbdServer.create(vertx, exports, NbdServerConfig.defaults()
                    .withHandshakeTimeout(Duration.ofSeconds(n.handshakeTimeoutSeconds()))
                    .withMaxConnections(n.maxConnections())
                    .withMaxInFlightBytes(NbdServerConfig.DEFAULT_MAX_IN_FLIGHT_BYTES, n.maxInFlightBytesTotal())
                    .withRequestTimeout(Duration.ofSeconds(n.requestTimeoutSeconds()))
                    .withTls(tls.orElse(null)));
            int nbdPort = Listening.await("NBD", n.bind() + ":" + n.port(), nbd.listenTcp(n.bind(), n.port()));
            if (n.socket() != null) {
                Files.deleteIfExists(n.socket());
                Listening.await("NBD", "unix socket " + n.socket(), nbd.listenUnix(n.socket()));
            }
            NbdEndpoints endpoints = new NbdEndpoints(n.bind(), nbdPort, n.socket(), tls.isPresent());

            AllowedPaths backupDirs = new AllowedPaths("backup", config.backupDirs());
            DiskTable disks = new DiskTable(new AllowedPaths("image", config.imageDirs()),
                    new AllowedPaths("guest agent", config.guestAgentDirs()),
                    new ReservedFiles(config.stateDir(), config.imageDirs(), config.tempDirs()), exports,
                    new RememberedDisksFile(config.stateDir()), events::publish,
                    new RestoreSources(backupDirs, clientTls));
            AllowedPaths tempDirs = new AllowedPaths("temp", config.tempDirs());
            JobHistory history = JobHistory.open(config.stateDir(), new JobHistoryJson(), Clock.systemUTC());
            GuestFreezer freezer = new GuestFreezer(events::publish,
                    Duration.ofMillis((long) (config.defaults().freezeTimeoutSeconds() * 1000)));
            JobTable jobs = new JobTable(disks, exports, tempDirs, backupDirs, clientTls,
                    BackupChains.open(config.stateDir()), events::publish, Clock.systemUTC(), history, freezer);
            StartupRecovery startup = new StartupRecovery(history, tempDirs, backupDirs, disks, startupDisks(config));

            DaemonApi api = new DaemonApi(disks, jobs, endpoints, nbd.stats(), events, config.defaults(), startup);
            HttpServer http = Listening.await("REST", config.rest().bind() + ":" + config.rest().port(),
                    vertx.createHttpServer()
                            .requestHandler(api.router(vertx, ApiContract.load(), config.tokens(), config.rest().maxBodyBytes()))
                            .listen(config.rest().port(), config.rest().bind()));
            long leaseTimer = vertx.setPeriodic(1000, t -> Thread.ofVirtual().start(() -> {
                jobs.expireLeases();
                jobs.publishProgress();
            }));
            long throttleTimer = vertx.setPeriodic(AdaptiveReadLimit.TICK_MILLIS,
                    t -> Thread.ofVirtual().start(jobs::tickThrottles));
            // bitmaps stored in the images now and then, so crash recovery starts from a recent point
            long bitmapTimer = vertx.setPeriodic(config.bitmapStoreSeconds() * 1000L,
                    t -> Thread.ofVirtual().start(disks::storeBitmaps));
            long restoreTimer = vertx.setPeriodic(1000, t -> Thread.ofVirtual().start(disks::publishRestoreProgress));

            LOG.info("REST listening on http://" + config.rest().bind() + ":" + http.actualPort()
                    + (config.tokens().isEmpty() ? "" : " (bearer token required)"));
            LOG.info("NBD listening on " + endpoints.tcpUri("") + (n.socket() == null ? ""
                    : " and " + endpoints.unixUri("")) + (tls.isPresent() ? " (TLS)" : ""));
            config.startWarnings().forEach(LOG::warning);
            LOG.info("state in " + config.stateDir() + "; images allowed in " + config.imageDirs()
                    + ", temp images in " + config.tempDirs() + ", backups in " + config.backupDirs());
            startup.start();

            String why = stop.await();
            LOG.info("stopping: " + why);
            events.publish("shutdown", Map.of("why", why));
            vertx.cancelTimer(leaseTimer);
            vertx.cancelTimer(throttleTimer);
            vertx.cancelTimer(bitmapTimer);
            vertx.cancelTimer(restoreTimer);
            // no new requests from here; the connections, and the event streams on them, stay open
            // until the jobs' ends are sent, however long ending them takes
            api.refuseRequests();
            startup.awaitEnd();
            // a job start in progress thaws its guests itself; this catches thaws still being retried
            freezer.thawAll("shutdown");
            jobs.failAll("shutdown");
            await(events.close());
            await(http.shutdown(REST_SHUTDOWN_SECONDS, TimeUnit.SECONDS));
            await(nbd.close());
            disks.closeAll();
            await(vertx.close());
            LOG.info("stopped cleanly");
            return 0;
        }

        private static void await(Future<?> f) {
            f.toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
        }
    }

    /**
     * The configuration's disks, then those the state directory remembers besides. A configured
     * disk keeps the guest limits an earlier run remembered for it (they are set through the API).
     */
    private static List<RememberedDisks.Entry> startupDisks(DaemonConfig config) throws IOException {
        List<RememberedDisks.Entry> all = new ArrayList<>();
        for (DaemonConfig.DiskSpec d : config.disks()) {
            all.add(new RememberedDisks.Entry(d.name(), d.path().toString(), d.format(),
                    d.guestAgent() == null ? null : d.guestAgent().socket().toString(), null));
        }
        for (RememberedDisks.Entry e : new RememberedDisksFile(config.stateDir()).load()) {
            int configured = indexOf(all, e.name());
            if (configured < 0) {
                all.add(e);
            } else {
                all.set(configured, all.get(configured).withLimitsOf(e));
            }
        }
        return all;
    }

    private static int indexOf(List<RememberedDisks.Entry> entries, String name) {
        for (int i = 0; i < entries.size(); i++) {
            if (entries.get(i).name().equals(name)) {
                return i;
            }
        }
        return -1;
    }

    private static void createDirectories(DaemonConfig config) throws IOException {
        Files.createDirectories(config.stateDir());
        for (Path p : config.imageDirs()) {
            Files.createDirectories(p);
        }
        for (Path p : config.tempDirs()) {
            Files.createDirectories(p);
        }
        for (Path p : config.guestAgentDirs()) {
            Files.createDirectories(p);
        }
        for (Path p : config.backupDirs()) {
            Files.createDirectories(p);
        }
    }
}
