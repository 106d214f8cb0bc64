package org.fleeced.daemon.nbd.server;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.ClientAuth;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.NetSocket;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.core.net.ServerSSLOptions;
import io.vertx.core.net.SocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Logger;

/**
 * The NBD server (DESIGN §7): Vert.x NetServers on TCP ports and Unix sockets that serve the exports
 * of one {@link NbdExportRegistry}. Event loops only move bytes; requests run on virtual threads.
 *
 * <pre>
 *   NetSocket -> NbdConnection -> NbdFrameDecoder -> HandshakeSession   (options, on the event loop)
 *                                                 -> TransmissionSession -> virtual thread per request
 *                                                      -> CommandRunner / ReadResponder / BlockStatusResponder
 *                                                      -> ReplyWriter -> NetSocket
 * </pre>
 *
 * <p>Connections beyond {@link NbdServerConfig#maxConnections()} are closed as soon as they are
 * accepted, before the greeting (no option reply can be sent before the client has sent an
 * option), and counted in {@link NbdServerStats#connectionsRefused()}.
 *
 * <p>Closing the server refuses new connections (closed at once) and ends every connection as
 * {@link NbdConnection} describes for shutdown (haggling: ERR_SHUTDOWN to the next option;
 * transmission: like NBD_CMD_DISC, received requests are completed); then the listeners close. The
 * close completes when the last connection has closed, so the caller may close the nodes then. The exports and their nodes stay with whoever registered them.
 */
public final class NbdServer {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.nbd");

    private final Vertx vertx;
    private final ConnectionContext context;
    private final List<NetServer> listeners = new CopyOnWriteArrayList<>();
    private final List<Path> socketFiles = new CopyOnWriteArrayList<>();
    /** Default bound on how long a haggling client that sends no option keeps a closing server open. */
    public static final Duration DEFAULT_SHUTDOWN_GRACE = Duration.ofSeconds(1);

    private final Set<NbdConnection> connections = ConcurrentHashMap.newKeySet();
    /** Guards {@link #closing} together with additions to {@link #connections}, so that no connection escapes a close. */
    private final Object lifecycle = new Object();
    /** Guarded by {@link #lifecycle}: set once by the first close; connections accepted afterwards are closed at once. */
    private boolean closing;
    /** Completed when closing and the last connection has closed. */
    private final Promise<Void> drained = Promise.promise();
    /** Guarded by {@link #lifecycle}: the future of the first close, or null. */
    private Future<Void> closed;

    private NbdServer(Vertx vertx, NbdExportRegistry registry, NbdServerConfig config) {
        this.vertx = vertx;
        this.context = new ConnectionContext(vertx, config, registry, new NbdServerStats(),
                new ServerInFlightBudget(config.maxInFlightBytesTotal(), BlockSizeConstraints.MAX_PAYLOAD_BYTES),
                config.tls().map(NbdServer::sslOptions).orElse(null));
    }

    public static NbdServer create(Vertx vertx, NbdExportRegistry registry, NbdServerConfig config) {
        return new NbdServer(vertx, registry, config);
    }

    public NbdServerStats stats() {
        return context.stats();
    }

    /** Request data held across all connections now (payloads received, read replies), in bytes. */
    public long inFlightBytes() {
        return context.inFlight().usedBytes();
    }

    /** Listens on a TCP address; the future gives the port actually bound (useful with port 0). */
    public Future<Integer> listenTcp(String host, int port) {
        NetServer server = newServer();
        return server.listen(port, host).map(bound -> {
            listeners.add(bound);
            LOG.info("NBD listening on " + host + ":" + bound.actualPort());
            return bound.actualPort();
        });
    }

    /** Listens on a Unix domain socket; a stale socket file at {@code path} is replaced. */
    public Future<Void> listenUnix(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (java.io.IOException e) {
            return Future.failedFuture(e);
        }
        NetServer server = newServer();
        return server.listen(SocketAddress.domainSocketAddress(path.toString())).map(bound -> {
            listeners.add(bound);
            socketFiles.add(path);
            LOG.info("NBD listening on unix socket " + path);
            return null;
        });
    }

    /** {@link #close(Duration)} with {@link #DEFAULT_SHUTDOWN_GRACE}. */
    public Future<Void> close() {
        return close(DEFAULT_SHUTDOWN_GRACE);
    }

    /**
     * Stops listening and ends every connection (see the class comment); {@code grace} bounds the
     * wait for haggling clients that send nothing. Completes when every connection has closed; a
     * second call returns the first call's future.
     */
    public Future<Void> close(Duration grace) {
        List<NbdConnection> open;
        synchronized (lifecycle) {
            if (closed != null) {
                return closed;
            }
            closing = true;
            open = List.copyOf(connections);
            if (open.isEmpty()) {
                drained.tryComplete();
            }
            // a NetServer's close closes the sockets it accepted, so the listeners close only once
            // every connection has ended; until then accepted() closes newcomers at once
            List<NetServer> listening = List.copyOf(listeners);
            listeners.clear();
            closed = drained.future()
                    .compose(v -> Future.join(listening.stream().map(NetServer::close).toList()))
                    .onComplete(done -> removeSocketFiles()).mapEmpty();
        }
        if (!open.isEmpty()) {
            LOG.info("NBD server closing: waiting for " + open.size() + " connection(s)");
        }
        open.forEach(connection -> connection.shutdown(grace));
        if (!open.isEmpty()) {
            // Bounded whatever the clients do: a connection that has not reported its close by then
            // (each force-closes its socket after NbdConnection.UNANSWERED_CLOSE_AFTER) is given up.
            vertx.setTimer(grace.plus(NbdConnection.UNANSWERED_CLOSE_AFTER).plusSeconds(5).toMillis(), id -> {
                if (!drained.future().isComplete()) {
                    synchronized (lifecycle) {
                        LOG.warning("NBD server closing: " + connections.size()
                                + " connection(s) did not close in time; closing without them");
                    }
                    drained.tryComplete();
                }
            });
        }
        return closed;
    }

    private void removeSocketFiles() {
        for (Path file : socketFiles) {
            try {
                Files.deleteIfExists(file);
            } catch (java.io.IOException e) {
                LOG.warning("could not remove socket " + file + ": " + e.getMessage());
            }
        }
    }

    private NetServer newServer() {
        return vertx.createNetServer(new NetServerOptions().setTcpNoDelay(true)).connectHandler(this::accepted);
    }

    private void accepted(NetSocket socket) {
        NbdConnection connection;
        synchronized (lifecycle) {
            if (closing) {
                socket.close();
                return;
            }
            if (connections.size() >= context.config().maxConnections()) {
                context.stats().connectionRefused();
                LOG.warning("refused connection from " + socket.remoteAddress() + ": limit of "
                        + context.config().maxConnections() + " connections reached");
                socket.close();
                return;
            }
            connection = new NbdConnection(context, socket, vertx.getOrCreateContext(), this::connectionClosed);
            connections.add(connection);
        }
        connection.start();
    }

    private void connectionClosed(NbdConnection connection) {
        synchronized (lifecycle) {
            connections.remove(connection);
            if (closing && connections.isEmpty()) {
                drained.tryComplete();
            }
        }
    }

    private static ServerSSLOptions sslOptions(NbdTlsConfig tls) {
        ServerSSLOptions options = new ServerSSLOptions().setKeyCertOptions(new PemKeyCertOptions()
                .setCertPath(tls.certificate().toString()).setKeyPath(tls.privateKey().toString()));
        if (tls.clientCa() != null) {
            options.setTrustOptions(new PemTrustOptions().addCertPath(tls.clientCa().toString()));
        }
        options.setClientAuth(tls.verifyClient() ? ClientAuth.REQUIRED : ClientAuth.NONE);
        return options;
    }
}
