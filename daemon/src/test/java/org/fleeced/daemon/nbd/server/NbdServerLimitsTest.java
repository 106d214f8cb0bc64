package org.fleeced.daemon.nbd.server;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.BitSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.fleeced.block.testing.GatedNode;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.server.WireClient.Reply;
import org.junit.jupiter.api.Test;

/**
 * The server's resource limits (issue #5): in-flight bytes per connection meet back-pressure, and
 * connections beyond the limit are refused.
 *
 * <pre>
 *   WireClient --(256 x 1 MiB WRITE, pipelined)--> NbdServer [maxInFlightBytes 4 MiB] --> "gated" GatedNode (256 MiB)
 * </pre>
 */
class NbdServerLimitsTest {
    private static final int MIB = 1 << 20;
    private static final int WRITES = 256;
    private static final long BUDGET = 4L * MIB;
    /** A compact request header. */
    private static final int HEADER = 28;

    private static NbdServerConfig config(int maxConnections, long maxInFlightBytes) {
        return NbdServerConfig.defaults().withMaxConnections(maxConnections)
                .withMaxInFlightBytes(maxInFlightBytes, NbdServerConfig.DEFAULT_MAX_IN_FLIGHT_BYTES_TOTAL);
    }

    private static byte[] payload(int index) {
        byte[] data = new byte[MIB];
        for (int i = 0; i < data.length; i += 8) {
            data[i] = (byte) index;
            data[i + 1] = (byte) (index >> 8);
            data[i + 4] = (byte) (i >> 3);
            data[i + 5] = (byte) (i >> 11);
        }
        return data;
    }

    @Test
    void aClientPipeliningFarMoreThanTheBudgetMeetsBackPressureAndEveryWriteLands() throws Exception {
        GatedNode node = new GatedNode((long) WRITES * MIB);
        try (ServerFixture fixture = new ServerFixture(config(100, BUDGET))) {
            fixture.registry.register(NbdExport.writable("gated", node));
            NbdServerStats stats = fixture.server.stats();
            try (WireClient client = fixture.client().negotiate("gated", false, false)) {
                long handshakeBytes = stats.bytesIn();
                AtomicInteger sent = new AtomicInteger();
                Thread sender = Thread.ofPlatform().name("pipelining-client").start(() -> {
                    try {
                        for (int i = 0; i < WRITES; i++) {
                            client.request(0, NbdCommand.WRITE.code(), i, (long) i * MIB, MIB, payload(i));
                            sent.incrementAndGet();
                        }
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });

                // the budget is spent: 4 writes of 1 MiB + overhead reach 4 MiB, all stuck in the node
                await().atMost(Duration.ofSeconds(10)).until(() -> node.writesStarted() >= 4);
                // bound: charged bytes < budget + one request, plus at most the next request partly decoded
                long bound = BUDGET + 2L * (MIB + HEADER);
                await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(3))
                        .until(() -> stats.bytesIn() - handshakeBytes <= bound && sender.isAlive());
                assertEquals(4, node.writesStarted(), "no request beyond the budget reaches the node");
                assertTrue(sent.get() < WRITES / 4, "the client's sends block: " + sent.get() + " writes sent");

                node.open();
                BitSet answered = new BitSet(WRITES);
                for (int i = 0; i < WRITES; i++) {
                    Reply reply = client.reply(0);
                    assertEquals(0, reply.error(), "write " + reply.cookie());
                    answered.set((int) reply.cookie());
                }
                sender.join(Duration.ofSeconds(10));
                assertEquals(WRITES, answered.cardinality(), "every cookie answered once");
                for (int i = 0; i < WRITES; i++) {
                    assertEquals(GatedNode.crc(payload(i)), node.crcAt((long) i * MIB), "data of write " + i);
                }
            }
        }
    }

    @Test
    void theConnectionBeyondTheLimitIsClosedAtOnceAndAFreedSlotIsReused() throws Exception {
        int limit = 4;
        try (ServerFixture fixture = new ServerFixture(config(limit, NbdServerConfig.DEFAULT_MAX_IN_FLIGHT_BYTES))) {
            NbdServerStats stats = fixture.server.stats();
            WireClient[] clients = new WireClient[limit];
            try {
                for (int i = 0; i < limit; i++) {
                    clients[i] = fixture.client();
                }
                // refused before the greeting: the server closes without sending a byte
                try (WireClient refused = new WireClient(fixture.port)) {
                    assertTrue(refused.closedByServer());
                }
                assertEquals(1, stats.connectionsRefused());
                assertEquals(limit, stats.activeConnections());

                clients[0].close();
                await().atMost(Duration.ofSeconds(5)).until(() -> stats.activeConnections() == limit - 1);
                clients[0] = fixture.client().negotiate("rw", true, false);
                clients[0].request(0, NbdCommand.FLUSH.code(), 7, 0, 0, null);
                assertEquals(0, clients[0].reply(0).error());
                assertEquals(1, stats.connectionsRefused());
            } finally {
                for (WireClient client : clients) {
                    if (client != null) {
                        client.close();
                    }
                }
            }
        }
    }
}
