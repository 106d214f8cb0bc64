package org.fleeced.daemon.nbd.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.testing.ControllableNode;
import org.fleeced.block.testing.MemoryNode;
import org.fleeced.daemon.nbd.server.ExtentStatusContext;
import org.fleeced.daemon.nbd.server.NbdExport;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.daemon.nbd.server.NbdServer;
import org.fleeced.daemon.nbd.server.NbdServerConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client against fleeced's own server (in process, TCP): requests from several threads are in
 * flight on one connection and each gets its own reply, also out of order; a server error fails
 * its request only; a connection that goes away fails every request in flight; nbds:// is never
 * continued in plain text.
 *
 * <pre>
 *   threads --> NbdClientNode --(one TCP connection)--> NbdServer --> ControllableNode --> MemoryNode (4 MiB)
 * </pre>
 */
class NbdClientNodeTest {
    private static final int SIZE = 4 << 20;

    private final Vertx vertx = Vertx.vertx();
    private final MemoryNode memory = new MemoryNode(SIZE, true, 1);
    private final ControllableNode faults = new ControllableNode(memory);
    private NbdServer server;
    private NbdUri uri;

    @BeforeEach
    void start() {
        NbdExportRegistry registry = new NbdExportRegistry();
        registry.register(new NbdExport("disk", "", faults, false, false, true,
                List.of(ExtentStatusContext.baseAllocation(faults))));
        server = NbdServer.create(vertx, registry, NbdServerConfig.defaults());
        int port = server.listenTcp("127.0.0.1", 0).await();
        uri = new NbdUri(InetSocketAddress.createUnresolved("127.0.0.1", port), "disk", false);
    }

    @AfterEach
    void stop() {
        server.close().await();
        vertx.close().await();
    }

    @Test
    void requestsFromManyThreadsEachGetTheirOwnReply() throws Exception {
        try (NbdClientNode node = NbdClientNode.connect(uri)) {
            int pieces = 64;
            int piece = SIZE / pieces;
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int i = 0; i < pieces; i++) {
                int n = i;
                writes.add(CompletableFuture.runAsync(() -> write(node, (long) n * piece, pattern(n, piece))));
            }
            writes.forEach(CompletableFuture::join);
            List<CompletableFuture<byte[]>> reads = new ArrayList<>();
            for (int i = 0; i < pieces; i++) {
                int n = i;
                reads.add(CompletableFuture.supplyAsync(() -> read(node, (long) n * piece, piece)));
            }
            for (int i = 0; i < pieces; i++) {
                assertArrayEquals(pattern(i, piece), reads.get(i).join(), "piece " + i);
            }
        }
    }

    @Test
    void aLaterRequestIsAnsweredWhileAnEarlierOneWaits() throws Exception {
        try (NbdClientNode node = NbdClientNode.connect(uri)) {
            ControllableNode.Gate gate = faults.pauseNext(ControllableNode.Op.WRITE);
            CompletableFuture<Void> slow = CompletableFuture.runAsync(() -> write(node, 0, pattern(1, 4096)));
            gate.awaitArrived();
            write(node, 8192, pattern(2, 4096));
            assertArrayEquals(pattern(2, 4096), read(node, 8192, 4096), "answered while the first write waits");
            assertFalse(slow.isDone(), "the first write is still held by the server");
            gate.open();
            slow.join();
            assertArrayEquals(pattern(1, 4096), read(node, 0, 4096));
        }
    }

    @Test
    void aServerErrorFailsThatRequestOnly() throws Exception {
        try (NbdClientNode node = NbdClientNode.connect(uri)) {
            faults.fail(ControllableNode.Op.WRITE, Errno.ENOSPC);
            BlockIOException e = assertThrows(BlockIOException.class, () -> node.write(0, ByteBuffer.wrap(pattern(3, 4096)),
                    WriteFlag.NONE));
            assertEquals(Errno.ENOSPC, e.errno(), e.getMessage());
            faults.fail(ControllableNode.Op.WRITE, null);
            write(node, 0, pattern(4, 4096));
            assertArrayEquals(pattern(4, 4096), read(node, 0, 4096));
        }
    }

    @Test
    void aConnectionThatGoesAwayFailsTheRequestsInFlight() throws Exception {
        try (CutProxy proxy = new CutProxy(uri)) {
            NbdClientNode node = NbdClientNode.connect(proxy.uri());
            ControllableNode.Gate gate = faults.pauseNext(ControllableNode.Op.WRITE);
            CompletableFuture<Void> held = CompletableFuture.runAsync(() -> write(node, 0, pattern(5, 4096)));
            gate.awaitArrived();
            proxy.cut();
            Throwable failure = assertThrows(Exception.class, held::join).getCause();
            assertTrue(failure.getMessage().contains("NBD connection"), failure.toString());
            BlockIOException later = assertThrows(BlockIOException.class, () -> node.read(0, ByteBuffer.allocate(512)));
            assertEquals(Errno.EIO, later.errno(), later.getMessage());
            node.close();
            gate.open();
        }
    }

    /**
     * A TCP relay between one client and the server that the test can cut, as a network or a
     * server that dies does: both sockets closed at once, whatever is in flight.
     */
    private static final class CutProxy implements AutoCloseable {
        private final ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        private final List<Socket> sockets = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final NbdUri target;

        CutProxy(NbdUri target) throws IOException {
            this.target = target;
            Thread.ofVirtual().start(this::relay);
        }

        NbdUri uri() {
            return new NbdUri(InetSocketAddress.createUnresolved("127.0.0.1", listener.getLocalPort()), "disk", false);
        }

        private void relay() {
            try {
                Socket client = listener.accept();
                InetSocketAddress named = (InetSocketAddress) target.address();
                Socket server = new Socket(named.getHostString(), named.getPort());
                sockets.add(client);
                sockets.add(server);
                Thread.ofVirtual().start(() -> pipe(client, server));
                Thread.ofVirtual().start(() -> pipe(server, client));
            } catch (IOException e) {
                // cut before a client came
            }
        }

        private static void pipe(Socket from, Socket to) {
            try {
                from.getInputStream().transferTo(to.getOutputStream());
            } catch (IOException e) {
                // cut
            }
        }

        void cut() throws IOException {
            for (Socket s : sockets) {
                s.close();
            }
        }

        @Override
        public void close() throws IOException {
            cut();
            listener.close();
        }
    }

    @Test
    void nbdsIsNeverContinuedInPlainText(@TempDir Path dir) throws Exception {
        NbdUri tls = new NbdUri(uri.address(), "disk", true);
        BlockIOException noConfig = assertThrows(BlockIOException.class, () -> NbdClientNode.connect(tls));
        assertTrue(noConfig.getMessage().contains("nbdClientTls.caFile"), noConfig.getMessage());

        Path ca = dir.resolve("ca-cert.pem");
        keytool(dir, "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-dname", "CN=test CA", "-ext", "bc:c",
                "-keystore", "ca.p12", "-storepass", "secret");
        keytool(dir, "-exportcert", "-rfc", "-alias", "ca", "-keystore", "ca.p12", "-storepass", "secret",
                "-file", ca.toString());
        NbdClientTls trust = NbdClientTls.load(ca, null, null);
        BlockIOException plain = assertThrows(BlockIOException.class, () -> NbdClientNode.connect(tls, trust));
        assertTrue(plain.getMessage().contains("does not offer TLS"), plain.getMessage());

        Files.writeString(dir.resolve("junk.pem"), "not a certificate");
        IOException junk = assertThrows(IOException.class, () -> NbdClientTls.load(dir.resolve("junk.pem"), null, null));
        assertTrue(junk.getMessage().contains("junk.pem"), junk.getMessage());
        IOException missing = assertThrows(IOException.class, () -> NbdClientTls.load(dir.resolve("none.pem"), null, null));
        assertTrue(missing.getMessage().contains("none.pem"), missing.getMessage());
    }

    private static void keytool(Path dir, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
    }

    private static void write(NbdClientNode node, long offset, byte[] data) {
        try {
            node.write(offset, ByteBuffer.wrap(data), WriteFlag.NONE);
        } catch (BlockIOException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] read(NbdClientNode node, long offset, int length) {
        ByteBuffer dst = ByteBuffer.allocate(length);
        try {
            node.read(offset, dst);
        } catch (BlockIOException e) {
            throw new AssertionError(e);
        }
        return dst.array();
    }

    private static byte[] pattern(int seed, int length) {
        byte[] b = new byte[length];
        Arrays.fill(b, (byte) (seed * 31 + 7));
        b[0] = (byte) seed;
        return b;
    }
}
