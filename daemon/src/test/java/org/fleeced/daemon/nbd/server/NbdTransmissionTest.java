package org.fleeced.daemon.nbd.server;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.fleeced.block.Errno;
import org.fleeced.block.testing.ControllableNode.Op;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdError;
import org.fleeced.daemon.nbd.protocol.NbdReplyType;
import org.fleeced.daemon.nbd.server.WireClient.Reply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Replies of the transmission phase: read chunking, block status, extended headers, DISC, error mapping. */
class NbdTransmissionTest {
    private ServerFixture fixture;

    @BeforeEach
    void start() {
        fixture = new ServerFixture();
    }

    @AfterEach
    void stop() {
        fixture.close();
    }

    private static byte[] pattern(int length, int seed) {
        byte[] data = new byte[length];
        for (int i = 0; i < length; i++) {
            data[i] = (byte) (seed + i * 31);
        }
        return data;
    }

    @Test
    void structuredReadSendsHolesAsHoleChunksAndDataAsDataChunks() throws Exception {
        try (WireClient client = fixture.client().negotiate("rw", true, false)) {
            client.request(0, NbdCommand.WRITE.code(), 1, 8192, 4096, pattern(4096, 1));
            assertEquals(0, client.reply(0).error());
            client.request(0, NbdCommand.READ.code(), 2, 0, 16384, null);
            List<Reply> chunks = client.replies(0);
            assertEquals(List.of(NbdReplyType.OFFSET_HOLE.code(), NbdReplyType.OFFSET_DATA.code(), NbdReplyType.OFFSET_HOLE.code()),
                    chunks.stream().map(Reply::type).toList());
            assertEquals(8192, ByteBuffer.wrap(chunks.get(0).payload()).getInt(8), "hole size");
            assertArrayEquals(pattern(4096, 1), Arrays.copyOfRange(chunks.get(1).payload(), 8, 8 + 4096));
            assertEquals(List.of(false, false, true), chunks.stream().map(Reply::done).toList(), "only the last chunk is DONE");
        }
    }

    @Test
    void dfReadIsOneDataChunkWithTheHolesAsZeroes() throws Exception {
        try (WireClient client = fixture.client().negotiate("rw", true, false)) {
            client.request(0, NbdCommand.WRITE.code(), 1, 4096, 512, pattern(512, 2));
            client.reply(0);
            client.request(NbdCommandFlag.DF.mask(), NbdCommand.READ.code(), 2, 0, 8192, null);
            List<Reply> chunks = client.replies(0);
            assertEquals(1, chunks.size());
            assertEquals(NbdReplyType.OFFSET_DATA.code(), chunks.getFirst().type());
            assertEquals(8 + 8192, chunks.getFirst().payload().length);
        }
    }

    @Test
    void simpleReadCarriesTheData() throws Exception {
        try (WireClient client = fixture.client().negotiate("rw", false, false)) {
            client.request(NbdCommandFlag.FUA.mask(), NbdCommand.WRITE.code(), 1, 0, 1024, pattern(1024, 3));
            assertEquals(0, client.reply(0).error());
            client.request(0, NbdCommand.READ.code(), 2, 0, 1024, null);
            Reply reply = client.reply(1024);
            assertTrue(reply.simple());
            assertArrayEquals(pattern(1024, 3), reply.payload());
        }
    }

    @Test
    void blockStatusGivesOneChunkPerContextAndReqOneGivesOneExtent() throws Exception {
        try (WireClient client = fixture.client().negotiate("rw", true, false, "base:allocation", "qemu:allocation-depth")) {
            client.request(0, NbdCommand.WRITE.code(), 1, 0, 4096, pattern(4096, 4));
            client.reply(0);
            client.request(0, NbdCommand.BLOCK_STATUS.code(), 2, 0, ServerFixture.SIZE, null);
            List<Reply> chunks = client.replies(0);
            assertEquals(2, chunks.size());
            ByteBuffer base = ByteBuffer.wrap(chunks.get(0).payload());
            assertEquals(0, base.getInt(0), "base:allocation has id 0");
            assertEquals(4 + 2 * 8, base.capacity());
            assertEquals(4096, base.getInt(4));
            assertEquals(0, base.getInt(8));
            assertEquals(ServerFixture.SIZE - 4096, base.getInt(12));
            assertEquals(ExtentStatusContext.STATE_HOLE | ExtentStatusContext.STATE_ZERO, base.getInt(16));
            ByteBuffer depth = ByteBuffer.wrap(chunks.get(1).payload());
            assertEquals(1, depth.getInt(0));
            assertEquals(1, depth.getInt(8), "written data has depth 1");

            client.request(NbdCommandFlag.REQ_ONE.mask(), NbdCommand.BLOCK_STATUS.code(), 3, 0, 1024, null);
            for (Reply chunk : client.replies(0)) {
                assertEquals(4 + 8, chunk.payload().length);
                assertEquals(1024, ByteBuffer.wrap(chunk.payload()).getInt(4));
            }
        }
    }

    @Test
    void extendedHeadersAnswerBlockStatusExtAndFilterContextsByPayload() throws Exception {
        try (WireClient client = fixture.client().negotiate("rw", true, true, "base:allocation", "qemu:allocation-depth")) {
            client.request(NbdCommandFlag.PAYLOAD_LEN.mask(), NbdCommand.WRITE.code(), 1, 0, 4096, pattern(4096, 5));
            Reply none = client.reply(0);
            assertEquals(NbdReplyType.NONE.code(), none.type(), "no simple replies with extended headers");
            byte[] filter = ByteBuffer.allocate(12).putLong(ServerFixture.SIZE).putInt(1).array();
            client.request(NbdCommandFlag.PAYLOAD_LEN.mask(), NbdCommand.BLOCK_STATUS.code(), 2, 0, filter.length, filter);
            List<Reply> chunks = client.replies(0);
            assertEquals(1, chunks.size(), "only the context named in the payload");
            ByteBuffer ext = ByteBuffer.wrap(chunks.getFirst().payload());
            assertEquals(NbdReplyType.BLOCK_STATUS_EXT.code(), chunks.getFirst().type());
            assertEquals(1, ext.getInt(0));
            assertEquals(2, ext.getInt(4), "two extents");
            assertEquals(4096, ext.getLong(8));
            assertEquals(1, ext.getLong(16));

            byte[] unknownId = ByteBuffer.allocate(12).putLong(4096).putInt(7).array();
            client.request(NbdCommandFlag.PAYLOAD_LEN.mask(), NbdCommand.BLOCK_STATUS.code(), 3, 0, unknownId.length, unknownId);
            assertEquals(NbdError.EINVAL.code(), client.reply(0).error());
        }
    }

    @Test
    void disconnectCompletesTheWritesAlreadyReceived() throws Exception {
        try (WireClient client = fixture.client().negotiate("rw", true, false)) {
            for (int i = 0; i < 16; i++) {
                client.request(0, NbdCommand.WRITE.code(), i, i * 4096L, 4096, pattern(4096, i));
            }
            client.request(0, NbdCommand.DISC.code(), 99, 0, 0, null);
            for (int i = 0; i < 16; i++) {
                assertEquals(0, client.reply(0).error());
            }
            assertTrue(client.closedByServer());
        }
        for (int i = 0; i < 16; i++) {
            assertArrayEquals(pattern(4096, i), fixture.rwNode.contents(i * 4096, 4096));
        }
    }

    @Test
    void eaccesGoesOutAsEpermWithAMessageThatSaysEacces() throws Exception {
        fixture.roNode.write(0, ByteBuffer.wrap(pattern(4096, 7)), org.fleeced.block.WriteFlag.NONE);
        fixture.roFaults.fail(Op.READ, Errno.EACCES);
        try (WireClient client = fixture.client().negotiate("ro", true, false)) {
            client.request(0, NbdCommand.READ.code(), 1, 0, 4096, null);
            Reply reply = client.replies(0).getLast();
            assertEquals(NbdError.EPERM.code(), reply.error());
            assertTrue(reply.chunkMessage().startsWith("EACCES:"), reply.chunkMessage());
        }
    }

    @Test
    void enotsupWithoutFastZeroBecomesEinval() throws Exception {
        fixture.roFaults.fail(Op.READ, Errno.ENOTSUP);
        try (WireClient client = fixture.client().negotiate("ro", false, false)) {
            client.request(0, NbdCommand.READ.code(), 1, 0, 4096, null);
            assertEquals(NbdError.EINVAL.code(), client.reply(0).error());
        }
    }

    @Test
    void statsCountConnectionsRequestsAndBytes() throws Exception {
        try (WireClient client = fixture.client().negotiate("rw", true, false)) {
            client.request(0, NbdCommand.WRITE.code(), 1, 0, 4096, pattern(4096, 6));
            client.reply(0);
            assertEquals(1, fixture.server.stats().requests(NbdCommand.WRITE));
            assertTrue(fixture.server.stats().bytesIn() > 4096);
            assertEquals(1, fixture.server.stats().activeConnections());
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> fixture.server.stats().activeConnections() == 0);
    }
}
