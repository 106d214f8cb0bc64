package org.fleeced.daemon.nbd.server;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import io.netty.buffer.PoolArenaMetric;
import io.netty.buffer.PooledByteBufAllocator;
import org.fleeced.block.Errno;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.testing.ControllableNode;
import org.fleeced.block.testing.GatedNode;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.junit.jupiter.api.Test;

/**
 * Memory bounded by configuration, not by clients (issue #13, point 4): payload bytes are admitted
 * as they arrive within the server-wide budget, and a client that stops mid-request is dropped.
 *
 * <pre>
 *   20 x WireClient --(WRITE header of 32 MiB + 1 byte, then silence)--> NbdServer [requestTimeout 1 s] --> "rw"
 *   1 x WireClient  --(normal WRITE + READ)-------------------------------^
 *
 *   3 x WireClient --(4 x 8 MiB WRITE, pipelined)--> NbdServer [64 MiB total] --> "gated" GatedNode
 * </pre>
 */
class NbdServerMemoryTest {
    private static final int MIB = 1 << 20;

    @Test
    void clientsThatAnnounce32MiBAndSendOneByteHoldOneByteEachAndAreDroppedByTheRequestTimeout() throws Exception {
        int stalled = 20;
        try (ServerFixture fixture = new ServerFixture(NbdServerConfig.defaults().withRequestTimeout(Duration.ofSeconds(1)))) {
            List<WireClient> holders = new ArrayList<>();
            try {
                for (int i = 0; i < stalled; i++) {
                    WireClient holder = fixture.client().negotiate("rw", false, false);
                    holder.request(0, NbdCommand.WRITE.code(), i, 0, 32 * MIB, new byte[] {7});
                    holders.add(holder);
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> fixture.server.inFlightBytes() == stalled);

                try (WireClient normal = fixture.client().negotiate("rw", false, false)) {
                    byte[] data = new byte[4096];
                    java.util.Arrays.fill(data, (byte) 0x5a);
                    normal.request(0, NbdCommand.WRITE.code(), 100, 8192, data.length, data);
                    assertEquals(0, normal.reply(0).error());
                    normal.request(0, NbdCommand.READ.code(), 101, 8192, data.length, null);
                    WireClient.Reply read = normal.reply(data.length);
                    assertEquals(0, read.error());
                    assertArrayEquals(data, read.payload());
                }
                for (WireClient holder : holders) {
                    assertTrue(holder.closedByServer(), "a stalled client is closed by the request timeout");
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> fixture.server.inFlightBytes() == 0);
            } finally {
                for (WireClient holder : holders) {
                    holder.close();
                }
            }
        }
    }

    @Test
    void pipelinedWritesOfSeveralConnectionsStayWithinTheServerBudgetAndAllLand() throws Exception {
        int connections = 3;
        int writes = 4;
        int size = 8 * MIB;
        long total = NbdServerConfig.MIN_IN_FLIGHT_BYTES_TOTAL;
        GatedNode node = new GatedNode((long) connections * writes * size);
        NbdServerConfig config = NbdServerConfig.defaults().withMaxInFlightBytes(1L << 40, total);
        try (ServerFixture fixture = new ServerFixture(config)) {
            fixture.registry.register(NbdExport.writable("gated", node));
            AtomicLong peak = new AtomicLong();
            List<WireClient> clients = new ArrayList<>();
            List<Thread> senders = new ArrayList<>();
            try {
                for (int c = 0; c < connections; c++) {
                    WireClient client = fixture.client().negotiate("gated", false, false);
                    clients.add(client);
                    int first = c * writes;
                    senders.add(Thread.ofPlatform().start(() -> {
                        try {
                            for (int i = first; i < first + writes; i++) {
                                client.request(0, NbdCommand.WRITE.code(), i, (long) i * size, size, payload(i, size));
                            }
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }));
                }
                // the gate holds every write that reaches the node; the budget holds everything else back
                await().atMost(Duration.ofSeconds(20)).until(() -> node.writesStarted() >= 2);
                await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> {
                    peak.accumulateAndGet(fixture.server.inFlightBytes(), Math::max);
                    return fixture.server.inFlightBytes() <= total;
                });
                assertTrue(node.writesStarted() <= total / size, "writes in the node: " + node.writesStarted());

                node.open();
                for (WireClient client : clients) {
                    for (int i = 0; i < writes; i++) {
                        assertEquals(0, client.reply(0).error());
                    }
                }
                for (Thread sender : senders) {
                    sender.join();
                }
                for (int i = 0; i < connections * writes; i++) {
                    assertEquals(GatedNode.crc(payload(i, size)), node.crcAt((long) i * size), "data of write " + i);
                }
                assertTrue(peak.get() <= total, "peak " + peak.get());
                await().atMost(Duration.ofSeconds(10)).until(() -> fixture.server.inFlightBytes() == 0);
            } finally {
                for (WireClient client : clients) {
                    client.close();
                }
            }
        }
    }

    /**
     * Read replies, and write payloads that came in several socket reads, are built in pooled
     * direct memory: each one is given back, whether it was sent, its read failed, or its client
     * went away before it could be written.
     */
    @Test
    void everyReadReplyAndGatheredWriteGivesItsPooledBufferBack() throws Exception {
        try (ServerFixture fixture = new ServerFixture()) {
            // data everywhere, so that no read is answered as a hole without reading
            fixture.roNode.write(0, ByteBuffer.wrap(payload(1, ServerFixture.SIZE)), WriteFlag.NONE);
            long before = activeDirectAllocations();
            try (WireClient client = fixture.client().negotiate("ro", true, false)) {
                for (int i = 0; i < 50; i++) {
                    client.request(i % 2 == 0 ? NbdCommandFlag.DF.mask() : 0, NbdCommand.READ.code(), i, 0,
                            ServerFixture.SIZE / 4, null);
                    assertEquals(0, client.replies(0).getLast().error());
                }
                fixture.roFaults.fail(ControllableNode.Op.READ, Errno.EIO);
                client.request(0, NbdCommand.READ.code(), 99, 0, 4096, null);
                assertTrue(client.replies(0).getLast().error() != 0, "the injected read failure");
            }
            try (WireClient client = fixture.client().negotiate("ro", false, false)) {
                for (int i = 0; i < 20; i++) {
                    client.request(0, NbdCommand.READ.code(), i, 0, ServerFixture.SIZE, null);
                }
                // gone without reading a reply
            }
            try (WireClient client = fixture.client().negotiate("rw", false, false)) {
                // more than one socket read: gathered into pooled memory for the node's write
                byte[] data = payload(2, ServerFixture.SIZE);
                client.request(0, NbdCommand.WRITE.code(), 1, 0, data.length, data);
                assertEquals(0, client.reply(0).error());
                ByteBuffer written = ByteBuffer.allocate(data.length);
                fixture.rwNode.read(0, written);
                assertEquals(ByteBuffer.wrap(data), written.flip());
            }
            ControllableNode.Gate gate = fixture.roFaults.pauseNext(ControllableNode.Op.READ);
            try (WireClient client = fixture.client().negotiate("ro", false, false)) {
                client.request(0, NbdCommand.READ.code(), 1, 0, ServerFixture.SIZE, null);
                gate.awaitArrived();
            }
            // the read ends after its client left: its reply has no socket to go to
            await().atMost(Duration.ofSeconds(10)).until(() -> fixture.server.stats().activeConnections() == 0);
            gate.open();
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertEquals(before, activeDirectAllocations(),
                    "pooled reply buffers still held"));
        }
    }

    private static long activeDirectAllocations() {
        long active = 0;
        for (PoolArenaMetric arena : PooledByteBufAllocator.DEFAULT.metric().directArenas()) {
            active += arena.numActiveAllocations();
        }
        return active;
    }

    private static byte[] payload(int index, int size) {
        byte[] data = new byte[size];
        for (int i = 0; i < data.length; i += 4096) {
            data[i] = (byte) index;
            data[i + 1] = (byte) (i >> 12);
        }
        return data;
    }
}
