package org.fleeced.daemon.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.Stream;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdError;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One row per protocol misuse (libnbd's errors-* tests): the exact NBD error the request gets, and
 * the connection still answering a good READ afterwards. Rows run with structured replies (the
 * error arrives as an ERROR chunk with a message); a few run again with simple replies.
 */
class NbdRequestMisuseTest {
    private static final long TOO_FAR = ServerFixture.SIZE;
    private static ServerFixture fixture;

    @BeforeAll
    static void start() {
        fixture = new ServerFixture();
    }

    @AfterAll
    static void stop() {
        fixture.close();
    }

    record Misuse(String edge, String export, int flags, int type, long offset, long length, byte[] payload, NbdError expected) {
        @Override
        public String toString() {
            return edge;
        }
    }

    private static final int READ = NbdCommand.READ.code();
    private static final int WRITE = NbdCommand.WRITE.code();

    static Stream<Misuse> misuses() {
        return Stream.of(
                new Misuse("unaligned offset (minimum block 512)", "rw", 0, READ, 100, 512, null, NbdError.EINVAL),
                new Misuse("unaligned length", "rw", 0, READ, 0, 100, null, NbdError.EINVAL),
                new Misuse("unaligned write, payload still consumed", "rw", 0, WRITE, 0, 100, new byte[100], NbdError.EINVAL),
                new Misuse("oversize read (> 32 MiB)", "rw", 0, READ, 0, (32 << 20) + 512, null, NbdError.EINVAL),
                new Misuse("oversize write, payload skipped", "rw", 0, WRITE, 0, (32 << 20) + 512, new byte[(32 << 20) + 512], NbdError.EINVAL),
                new Misuse("zero-size read", "rw", 0, READ, 0, 0, null, NbdError.EINVAL),
                new Misuse("zero-size write", "rw", 0, WRITE, 0, 0, new byte[0], NbdError.EINVAL),
                new Misuse("zero-size trim", "rw", 0, NbdCommand.TRIM.code(), 0, 0, null, NbdError.EINVAL),
                new Misuse("unknown flag", "rw", 0x40, READ, 0, 512, null, NbdError.EINVAL),
                new Misuse("flag of another command (NO_HOLE on READ)", "rw", NbdCommandFlag.NO_HOLE.mask(), READ, 0, 512, null, NbdError.EINVAL),
                new Misuse("PAYLOAD_LEN without extended headers", "rw", NbdCommandFlag.PAYLOAD_LEN.mask(), READ, 0, 512, null, NbdError.EINVAL),
                new Misuse("unknown command", "rw", 0, 42, 0, 512, null, NbdError.EINVAL),
                new Misuse("RESIZE (not advertised)", "rw", 0, NbdCommand.RESIZE.code(), 0, 0, null, NbdError.EINVAL),
                new Misuse("BLOCK_STATUS without a selected context", "rw", 0, NbdCommand.BLOCK_STATUS.code(), 0, 512, null, NbdError.EINVAL),
                new Misuse("FLUSH with a length", "rw", 0, NbdCommand.FLUSH.code(), 0, 512, null, NbdError.EINVAL),
                new Misuse("read past the end", "rw", 0, READ, TOO_FAR, 512, null, NbdError.EINVAL),
                new Misuse("read straddling the end", "rw", 0, READ, TOO_FAR - 512, 1024, null, NbdError.EINVAL),
                new Misuse("write past the end", "rw", 0, WRITE, TOO_FAR, 512, new byte[512], NbdError.ENOSPC),
                new Misuse("write zeroes past the end", "rw", 0, NbdCommand.WRITE_ZEROES.code(), TOO_FAR, 512, null, NbdError.ENOSPC),
                new Misuse("trim past the end", "rw", 0, NbdCommand.TRIM.code(), TOO_FAR, 512, null, NbdError.EINVAL),
                new Misuse("offset at or above 2^63", "rw", 0, READ, Long.MIN_VALUE, 512, null, NbdError.EINVAL),
                new Misuse("offset + length overflows 2^64 (read)", "rw", 0, READ, -512L, 1024, null, NbdError.EINVAL),
                new Misuse("offset + length overflows 2^64 (write)", "rw", 0, WRITE, -512L, 1024, new byte[1024], NbdError.ENOSPC),
                new Misuse("write to a read-only export, payload consumed", "ro", 0, WRITE, 0, 4096, new byte[4096], NbdError.EPERM),
                new Misuse("write zeroes to a read-only export", "ro", 0, NbdCommand.WRITE_ZEROES.code(), 0, 4096, null, NbdError.EPERM),
                new Misuse("trim on a read-only export", "ro", 0, NbdCommand.TRIM.code(), 0, 4096, null, NbdError.EPERM),
                new Misuse("FUA not advertised (read-only export)", "ro", NbdCommandFlag.FUA.mask(), READ, 0, 512, null, NbdError.EINVAL),
                new Misuse("write to a fleece export", "fleece", 0, WRITE, 0, 4096, new byte[4096], NbdError.EPERM),
                new Misuse("write zeroes to a fleece export", "fleece", 0, NbdCommand.WRITE_ZEROES.code(), 0, 4096, null, NbdError.EPERM),
                new Misuse("FAST_ZERO on a fleece export", "fleece", NbdCommandFlag.FAST_ZERO.mask(), NbdCommand.WRITE_ZEROES.code(), 0, 4096, null, NbdError.EPERM));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("misuses")
    void structuredRepliesGetTheErrorAsAChunkAndTheConnectionStaysUsable(Misuse misuse) throws Exception {
        try (WireClient client = fixture.client().negotiate(misuse.export(), true, false)) {
            client.request(misuse.flags(), misuse.type(), 7, misuse.offset(), misuse.length(), misuse.payload());
            List<WireClient.Reply> replies = client.replies(0);
            WireClient.Reply last = replies.getLast();
            assertEquals(1, replies.size(), "an error is the only chunk");
            assertEquals(7, last.cookie());
            assertEquals(misuse.expected().code(), last.error(), misuse.edge() + ": " + last.chunkMessage());
            assertTrue(!last.chunkMessage().isEmpty(), "an error chunk carries a message");
            assertGoodReadStillWorks(client, true);
        }
    }

    static Stream<Arguments> simpleRows() {
        return misuses().filter(m -> m.edge().contains("past the end") || m.edge().contains("read-only export, payload")
                || m.edge().contains("unaligned write")).map(Arguments::of);
    }

    @ParameterizedTest(name = "simple replies: {0}")
    @MethodSource("simpleRows")
    void simpleRepliesGetTheErrorInTheHeaderWithoutData(Misuse misuse) throws Exception {
        try (WireClient client = fixture.client().negotiate(misuse.export(), false, false)) {
            client.request(misuse.flags(), misuse.type(), 9, misuse.offset(), misuse.length(), misuse.payload());
            WireClient.Reply reply = client.reply(0);
            assertTrue(reply.simple());
            assertEquals(misuse.expected().code(), reply.error());
            assertGoodReadStillWorks(client, false);
        }
    }

    @Test
    void dfWithoutStructuredRepliesIsInvalid() throws Exception {
        try (WireClient client = fixture.client().negotiate("rw", false, false)) {
            client.request(NbdCommandFlag.DF.mask(), READ, 1, 0, 512, null);
            assertEquals(NbdError.EINVAL.code(), client.reply(512).error());
            assertGoodReadStillWorks(client, false);
        }
    }

    private static void assertGoodReadStillWorks(WireClient client, boolean structured) throws Exception {
        client.request(0, READ, 99, 0, 512, null);
        List<WireClient.Reply> replies = client.replies(512);
        assertEquals(99, replies.getLast().cookie());
        assertEquals(0, replies.getLast().error());
        if (structured) {
            assertTrue(replies.stream().noneMatch(r -> r.simple()), "READ after structured replies never gets a simple reply");
        }
    }
}
