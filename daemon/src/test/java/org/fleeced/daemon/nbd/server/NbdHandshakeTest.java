package org.fleeced.daemon.nbd.server;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.fleeced.daemon.nbd.protocol.NbdInfo;
import org.fleeced.daemon.nbd.protocol.NbdMagic;
import org.fleeced.daemon.nbd.protocol.NbdOption;
import org.fleeced.daemon.nbd.protocol.NbdOptionReply;
import org.fleeced.daemon.nbd.protocol.NbdTransmissionFlag;
import org.fleeced.daemon.nbd.server.WireClient.OptionReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Option haggling, option by option, against the rules of NBD proto "Option types" (A2 of the reference). */
class NbdHandshakeTest {
    private static ServerFixture fixture;

    @BeforeAll
    static void start() {
        fixture = new ServerFixture();
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    @Test
    void unknownOptionGetsErrUnsupAndHagglingGoesOn() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(4242, new byte[] {1, 2, 3});
            OptionReply reply = client.optionReply();
            assertEquals(4242, reply.option());
            assertTrue(reply.is(NbdOptionReply.ERR_UNSUP));
            client.negotiate("rw", true, false);
            assertEquals(ServerFixture.SIZE, client.exportSize);
        }
    }

    @Test
    void abortIsAcknowledgedThenTheServerCloses() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.ABORT, new byte[0]);
            assertTrue(client.optionReply().is(NbdOptionReply.ACK));
            assertTrue(client.closedByServer());
        }
    }

    @Test
    void listNamesEveryExportThenAcks() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.LIST, new byte[0]);
            List<OptionReply> replies = client.optionReplies();
            assertEquals(4, replies.size());
            ByteBuffer first = ByteBuffer.wrap(replies.getFirst().data());
            int length = first.getInt();
            assertEquals("rw", new String(replies.getFirst().data(), 4, length, StandardCharsets.UTF_8));
            assertTrue(replies.getLast().is(NbdOptionReply.ACK));
        }
    }

    @Test
    void listWithDataIsInvalid() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.LIST, new byte[] {0});
            assertTrue(client.optionReply().is(NbdOptionReply.ERR_INVALID));
        }
    }

    @Test
    void infoGivesExportThenBlockSizeAndTheSameAsGo() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.INFO, WireClient.infoRequest("rw", NbdInfo.NAME.code(), NbdInfo.DESCRIPTION.code(),
                    NbdInfo.BLOCK_SIZE.code(), 999));
            List<OptionReply> replies = client.optionReplies();
            assertEquals(5, replies.size());
            ByteBuffer export = ByteBuffer.wrap(replies.get(0).data());
            assertEquals(12, export.capacity());
            assertEquals(ServerFixture.SIZE, export.getLong(2));
            ByteBuffer blockSize = ByteBuffer.wrap(replies.get(3).data());
            assertEquals(14, blockSize.capacity());
            assertEquals(512, blockSize.getInt(2));
            assertEquals(4096, blockSize.getInt(6));
            assertEquals(32 << 20, blockSize.getInt(10));
            int infoFlags = export.getShort(10) & 0xffff;
            client.negotiate("rw", false, false);
            assertEquals(infoFlags, client.transmissionFlags);
        }
    }

    @Test
    void readOnlyExportsAdvertiseNoTrimOrZeroAndNoDfWithoutStructuredReplies() throws Exception {
        try (WireClient client = fixture.client().negotiate("ro", false, false)) {
            int flags = client.transmissionFlags;
            assertTrue((flags & NbdTransmissionFlag.READ_ONLY.mask()) != 0);
            assertEquals(0, flags & (NbdTransmissionFlag.SEND_TRIM.mask() | NbdTransmissionFlag.SEND_WRITE_ZEROES.mask()
                    | NbdTransmissionFlag.SEND_FAST_ZERO.mask() | NbdTransmissionFlag.SEND_DF.mask()));
        }
    }

    @Test
    void fleeceExportsAreNotFlaggedReadOnlyButOnlyAdvertiseTrim() throws Exception {
        try (WireClient client = fixture.client().negotiate("fleece", true, false)) {
            int flags = client.transmissionFlags;
            assertEquals(0, flags & NbdTransmissionFlag.READ_ONLY.mask());
            assertTrue((flags & NbdTransmissionFlag.SEND_TRIM.mask()) != 0);
            assertEquals(0, flags & NbdTransmissionFlag.SEND_WRITE_ZEROES.mask());
            client.request(0, 4, 1, 0, 8192, null);
            assertEquals(0, client.reply(0).error());
        }
    }

    @Test
    void goForAnUnknownExportFailsAndTheClientMayRetry() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.GO, WireClient.infoRequest("nope"));
            assertTrue(client.optionReply().is(NbdOptionReply.ERR_UNKNOWN));
            client.negotiate("ro", false, false);
            assertEquals(ServerFixture.SIZE, client.exportSize);
        }
    }

    @Test
    void malformedGoIsInvalid() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.GO, new byte[] {0, 0, 0, 9, 'r', 'w'});
            assertTrue(client.optionReply().is(NbdOptionReply.ERR_INVALID));
        }
    }

    @Test
    void setMetaContextBeforeStructuredRepliesIsInvalid() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.SET_META_CONTEXT, WireClient.metaContextRequest("rw", "base:allocation"));
            assertTrue(client.optionReply().is(NbdOptionReply.ERR_INVALID));
        }
    }

    @Test
    void listMetaContextTreatsNamespacesAsWildcards() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.LIST_META_CONTEXT, WireClient.metaContextRequest("rw", "qemu:", "x-unknown:thing"));
            List<OptionReply> replies = client.optionReplies();
            assertEquals(2, replies.size());
            assertEquals("qemu:allocation-depth", new String(replies.get(0).data(), 4, replies.get(0).data().length - 4,
                    StandardCharsets.UTF_8));
            client.option(NbdOption.LIST_META_CONTEXT, WireClient.metaContextRequest("rw"));
            assertEquals(3, client.optionReplies().size(), "no query lists every context");
        }
    }

    @Test
    void setMetaContextIgnoresBareNamespacesAndUnknownNames() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.STRUCTURED_REPLY, new byte[0]);
            client.optionReply();
            client.option(NbdOption.SET_META_CONTEXT, WireClient.metaContextRequest("rw", "base:", "base:nonsense",
                    "other:thing", "base:allocation", "base:allocation"));
            List<OptionReply> replies = client.optionReplies();
            assertEquals(2, replies.size(), "base:allocation once, then ACK");
            assertTrue(replies.get(0).is(NbdOptionReply.META_CONTEXT));
        }
    }

    @Test
    void metaContextQueryOverrunningTheOptionIsInvalid() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.LIST_META_CONTEXT, new byte[] {0, 0, 0, 2, 'r', 'w', 0, 0, 0, 1, 0, 0, 0, 50, 'b'});
            assertTrue(client.optionReply().is(NbdOptionReply.ERR_INVALID));
        }
    }

    @Test
    void starttlsWithoutTlsIsAPolicyError() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.STARTTLS, new byte[0]);
            assertTrue(client.optionReply().is(NbdOptionReply.ERR_POLICY));
        }
    }

    @Test
    void exportNameWithoutNoZeroesSendsTheReservedZeroes() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", fixture.port)) {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            in.readLong();
            in.readLong();
            in.readShort();
            out.writeInt(1);
            out.writeLong(NbdMagic.IHAVEOPT.value());
            out.writeInt(NbdOption.EXPORT_NAME.code());
            out.writeInt(2);
            out.write(new byte[] {'r', 'o'});
            assertEquals(ServerFixture.SIZE, in.readLong());
            in.readShort();
            byte[] zeroes = new byte[124];
            in.readFully(zeroes);
            assertTrue(java.util.Arrays.equals(new byte[124], zeroes));
            out.writeInt(NbdMagic.REQUEST_MAGIC.intValue());
            out.writeShort(0);
            out.writeShort(0);
            out.writeLong(5);
            out.writeLong(0);
            out.writeInt(16);
            assertEquals(NbdMagic.SIMPLE_REPLY_MAGIC.intValue(), in.readInt());
        }
    }

    @Test
    void unknownClientFlagsDropTheConnection() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", fixture.port)) {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            in.readNBytes(18);
            new DataOutputStream(socket.getOutputStream()).writeInt(0x80);
            assertEquals(-1, in.read());
        }
    }

    @Test
    void aClientThatNeverFinishesHagglingIsClosedAtTheTimeout() throws Exception {
        try (ServerFixture quick = new ServerFixture(ServerFixture.withHandshakeTimeout(Duration.ofSeconds(1)));
             WireClient client = quick.client()) {
            assertTrue(client.closedByServer());
            await().atMost(Duration.ofSeconds(10)).until(() -> quick.server.stats().handshakeFailures() == 1);
        }
    }

    @Test
    void unregisteringAnExportClosesItsConnections() throws Exception {
        try (ServerFixture own = new ServerFixture(); WireClient client = own.client().negotiate("ro", true, false)) {
            assertTrue(own.registry.unregister("ro"));
            assertTrue(client.closedByServer());
            assertFalse(own.registry.find("ro").isPresent());
        }
    }
}
