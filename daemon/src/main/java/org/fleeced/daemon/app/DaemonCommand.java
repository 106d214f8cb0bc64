package org.fleeced.daemon.app;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;

/**
 * {@code fleeced daemon}: starts the REST endpoint and runs until SIGINT or SIGTERM, then stops
 * cleanly and exits 0.
 */
final class DaemonCommand {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon");

    private DaemonCommand() {
    }

    static int run(String[] args) throws Exception {
        String bind = "127.0.0.1";
        int port = 8580;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--rest-bind" -> bind = value(args, ++i, "--rest-bind");
                case "--rest-port" -> port = parsePort(value(args, ++i, "--rest-port"));
                default -> throw new UsageException("unknown option '" + args[i] + "' for 'fleeced daemon'");
            }
        }

        Vertx vertx = Vertx.vertx();
        Router router = Router.router(vertx);
        router.get("/health").handler(ctx -> ctx.response()
                .putHeader("content-type", "application/json")
                .end("{\"status\":\"ok\"}"));
        HttpServer http = vertx.createHttpServer()
                .requestHandler(router)
                .listen(port, bind)
                .await();
        LOG.info("REST listening on http://" + bind + ":" + http.actualPort() + " (GET /health)");

        StopSignal stop = StopSignal.install();
        LOG.info("stopping: " + stop.await());
        vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
        LOG.info("stopped cleanly");
        return 0;
    }

    private static String value(String[] args, int i, String option) throws UsageException {
        if (i >= args.length) {
            throw new UsageException(option + " needs a value");
        }
        return args[i];
    }

    private static int parsePort(String text) throws UsageException {
        try {
            int port = Integer.parseInt(text);
            if (port < 0 || port > 65535) {
                throw new NumberFormatException();
            }
            return port;
        } catch (NumberFormatException e) {
            throw new UsageException("'" + text + "' is not a TCP port (0-65535)");
        }
    }
}
