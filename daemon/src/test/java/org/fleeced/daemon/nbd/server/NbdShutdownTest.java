package org.fleeced.daemon.nbd.server;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.fleeced.block.testing.GatedNode;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdOption;
import org.fleeced.daemon.nbd.protocol.NbdOptionReply;
import org.fleeced.daemon.nbd.server.WireClient.OptionReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link NbdServer#close()} with clients connected: in option haggling the next option gets
 * NBD_REP_ERR_SHUTDOWN (NBD proto "Option haggling"), in transmission the requests already received
 * complete before the connection closes (as NBD_CMD_DISC), and the close waits for both.
 */
class NbdShutdownTest {
    private ServerFixture fixture;

    @BeforeEach
    void start() {
        fixture = new ServerFixture();
    }

    @AfterEach
    void stop() {
        fixture.close();
    }

    private static void awaitClosed(Future<Void> closing) throws Exception {
        closing.toCompletionStage().toCompletableFuture().get(5, TimeUnit.SECONDS);
    }

    @Test
    void anOptionDuringShutdownGetsErrShutdownThenTheConnectionEnds() throws Exception {
        try (WireClient client = fixture.client()) {
            client.option(NbdOption.STRUCTURED_REPLY, new byte[0]);
            assertTrue(client.optionReply().is(NbdOptionReply.ACK));

            Future<Void> closing = fixture.server.close(Duration.ofSeconds(10));
            client.option(NbdOption.GO, WireClient.infoRequest("rw"));
            OptionReply reply = client.optionReply();
            assertEquals(NbdOption.GO.code(), reply.option());
            assertTrue(reply.is(NbdOptionReply.ERR_SHUTDOWN), "reply type " + reply.type());
            assertTrue(client.closedByServer());
            awaitClosed(closing);
        }
    }

    @Test
    void aSilentHagglingClientIsClosedWhenTheGraceEnds() throws Exception {
        try (WireClient client = fixture.client()) {
            Future<Void> closing = fixture.server.close(Duration.ofMillis(100));
            assertTrue(client.closedByServer());
            awaitClosed(closing);
        }
    }

    @Test
    void transmissionEndsAfterTheReceivedWritesAreAppliedAndAnswered() throws Exception {
        GatedNode node = new GatedNode(1 << 20);
        fixture.registry.register(NbdExport.writable("gated", node));
        try (WireClient client = fixture.client().negotiate("gated", true, false)) {
            byte[] first = new byte[4096];
            byte[] second = new byte[4096];
            first[0] = 1;
            second[0] = 2;
            client.request(0, NbdCommand.WRITE.code(), 1, 0, first.length, first);
            client.request(0, NbdCommand.WRITE.code(), 2, 4096, second.length, second);
            await().atMost(Duration.ofSeconds(5)).until(() -> node.writesStarted() == 2);

            Future<Void> closing = fixture.server.close();
            await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> !closing.isComplete());

            node.open();
            long replied = 0;
            for (int i = 0; i < 2; i++) {
                WireClient.Reply reply = client.reply(0);
                assertEquals(0, reply.error());
                replied |= 1L << reply.cookie();
            }
            assertEquals(0b110, replied, "both writes answered");
            assertTrue(client.closedByServer());
            awaitClosed(closing);
            assertEquals(GatedNode.crc(first), node.crcAt(0));
            assertEquals(GatedNode.crc(second), node.crcAt(4096));
        }
    }
}
