package org.fleeced.daemon.nbd.server;

import io.vertx.core.Context;
import io.vertx.core.Future;
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
import java.util.ArrayList;
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
 * accepted. Closing the server stops listening and closes every connection; the exports and their
 * nodes stay with whoever registered them.
 */
public final class NbdServer {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.nbd");

    private final Vertx vertx;
    private final ConnectionContext context;
    private final List<NetServer> listeners = new CopyOnWriteArrayList<>();
    private final List<Path> socketFiles = new CopyOnWriteArrayList<>();
    private final Set<NbdConnection> connections = ConcurrentHashMap.newKeySet();

    private NbdServer(Vertx vertx, NbdExportRegistry registry, NbdServerConfig config) {
        this.vertx = vertx;
        this.context = new ConnectionContext(vertx, config, registry, new NbdServerStats(),
                config.tls().map(NbdServer::sslOptions).orElse(null));
    }

    public static NbdServer create(Vertx vertx, NbdExportRegistry registry, NbdServerConfig config) {
        return new NbdServer(vertx, registry, config);
    }

    public NbdServerStats stats() {
        return context.stats();
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

    /** Stops listening and closes every connection. */
    public Future<Void> close() {
        List<Future<Void>> closing = new ArrayList<>();
        for (NetServer server : listeners) {
            closing.add(server.close());
        }
        listeners.clear();
        connections.forEach(NbdConnection::close);
        return Future.join(closing).onComplete(done -> {
            for (Path file : socketFiles) {
                try {
                    Files.deleteIfExists(file);
                } catch (java.io.IOException e) {
                    LOG.warning("could not remove socket " + file + ": " + e.getMessage());
                }
            }
        }).mapEmpty();
    }

    private NetServer newServer() {
        return vertx.createNetServer(new NetServerOptions().setTcpNoDelay(true)).connectHandler(this::accepted);
    }

    private void accepted(NetSocket socket) {
        if (connections.size() >= context.config().maxConnections()) {
            context.stats().connectionRefused();
            LOG.warning("refused connection from " + socket.remoteAddress() + ": limit of "
                    + context.config().maxConnections() + " connections reached");
            socket.close();
            return;
        }
        Context vertxContext = vertx.getOrCreateContext();
        NbdConnection connection = new NbdConnection(context, socket, vertxContext, connections::remove);
        connections.add(connection);
        connection.start();
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
