package org.fleeced.daemon.nbd.server;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Capabilities;
import org.fleeced.block.Extent;
import org.fleeced.block.FileSpan;
import org.fleeced.block.SwappableNode;
import org.fleeced.block.WriteFlag;
import org.fleeced.block.file.RawFileNode;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdReplyType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Read data sent straight from the file (sendfile) where the node offers a span: the bytes are the
 * file's in every reply style, every span is released, whether its reply was sent or its client
 * went away first, and a swap of the disk's stack never waits for a span still being sent.
 *
 * <pre>
 *   WireClient --READ--> NbdServer --fileSpan--> SpanCounter --> SwappableNode --> RawFileNode (temp file)
 * </pre>
 */
class NbdFileSpanTest {
    private static final int SIZE = ServerFixture.SIZE;

    @TempDir
    Path dir;

    @Test
    void readsSentFromTheFileCarryItsBytesAndReleaseEverySpan() throws Exception {
        byte[] data = new byte[SIZE];
        new Random(7).nextBytes(data);
        Arrays.fill(data, SIZE / 2, SIZE / 2 + 65536, (byte) 0);
        Path file = dir.resolve("disk.raw");
        Files.write(file, data);
        SwappableNode swappable = new SwappableNode(RawFileNode.open(file, true));
        SpanCounter counter = new SpanCounter(swappable);
        try (ServerFixture fixture = new ServerFixture()) {
            fixture.registry.register(NbdExport.readOnly("file", counter));
            try (WireClient simple = fixture.client().negotiate("file", false, false)) {
                simple.request(0, NbdCommand.READ.code(), 1, 4096, 65536, null);
                WireClient.Reply reply = simple.reply(65536);
                assertEquals(0, reply.error());
                assertArrayEquals(Arrays.copyOfRange(data, 4096, 4096 + 65536), reply.payload());
            }
            try (WireClient structured = fixture.client().negotiate("file", true, false)) {
                for (int flags : new int[] {0, NbdCommandFlag.DF.mask()}) {
                    structured.request(flags, NbdCommand.READ.code(), 2, 0, SIZE, null);
                    assertArrayEquals(data, assembled(structured.replies(0)), "flags " + flags);
                }
            }
            try (WireClient extended = fixture.client().negotiate("file", true, true)) {
                extended.request(0, NbdCommand.READ.code(), 3, 512, SIZE - 1024, null);
                byte[] image = assembled(extended.replies(0));
                assertArrayEquals(Arrays.copyOfRange(data, 512, SIZE - 512), Arrays.copyOfRange(image, 512, SIZE - 512));
            }
            try (WireClient leaver = fixture.client().negotiate("file", false, false)) {
                for (int i = 0; i < 20; i++) {
                    leaver.request(0, NbdCommand.READ.code(), i, 0, SIZE, null);
                }
                // gone without reading a reply
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> fixture.server.stats().activeConnections() == 0);
            assertTrue(counter.taken.get() > 20, "reads went out as file spans: " + counter.taken.get());
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertEquals(0, counter.held.get(), "spans held"));
            assertSwapCompletes(swappable);
        } finally {
            swappable.close();
        }
    }

    /**
     * A client that does not read its replies leaves spans unsent; a swap of the disk's stack (a
     * job's start) must not wait for them.
     */
    @Test
    void aSwapDoesNotWaitForSpansAClientLeavesUnread() throws Exception {
        byte[] data = new byte[SIZE];
        new Random(9).nextBytes(data);
        Path file = dir.resolve("unread.raw");
        Files.write(file, data);
        SwappableNode swappable = new SwappableNode(RawFileNode.open(file, true));
        SpanCounter counter = new SpanCounter(swappable);
        try (ServerFixture fixture = new ServerFixture()) {
            fixture.registry.register(NbdExport.readOnly("file", counter));
            try (WireClient stalled = fixture.client().negotiate("file", false, false)) {
                for (int i = 0; i < 40; i++) {
                    stalled.request(0, NbdCommand.READ.code(), i, 0, SIZE, null);
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> counter.taken.get() == 40);
                assertTrue(counter.held.get() > 0, "replies wait in the socket: " + counter.held.get());
                assertSwapCompletes(swappable);
                assertTrue(counter.held.get() > 0, "the swap went ahead with spans unsent");
            }
            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertEquals(0, counter.held.get(), "spans held"));
        } finally {
            swappable.close();
        }
    }

    /**
     * A file shortened behind the node's back: a span past its new end cannot be sent whole, and a
     * reply cut short would leave the stream unreadable, so the connection closes; the next one
     * reads what is left.
     */
    @Test
    void aSpanTheFileNoLongerHoldsClosesTheConnection() throws Exception {
        byte[] data = new byte[SIZE];
        new Random(8).nextBytes(data);
        Path file = dir.resolve("shrinking.raw");
        Files.write(file, data);
        try (RawFileNode node = RawFileNode.open(file, true); ServerFixture fixture = new ServerFixture()) {
            fixture.registry.register(NbdExport.readOnly("file", node));
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.truncate(SIZE / 2);
            }
            try (WireClient client = fixture.client().negotiate("file", false, false)) {
                client.request(0, NbdCommand.READ.code(), 1, SIZE / 2, SIZE / 4, null);
                assertThrows(IOException.class, () -> client.reply(SIZE / 4),
                        "the connection closes after the header instead of sending a short reply");
            }
            try (WireClient client = fixture.client().negotiate("file", false, false)) {
                client.request(0, NbdCommand.READ.code(), 2, 0, SIZE / 4, null);
                WireClient.Reply reply = client.reply(SIZE / 4);
                assertEquals(0, reply.error());
                assertArrayEquals(Arrays.copyOfRange(data, 0, SIZE / 4), reply.payload());
            }
        }
    }

    /** A drain of the disk's stack, as a job's start takes it, gets through (not stuck on sends in flight). */
    private static void assertSwapCompletes(SwappableNode swappable) {
        CompletableFuture<Void> swap = CompletableFuture.runAsync(() -> {
            try (SwappableNode.Drain drain = swappable.drain()) {
                assertEquals(SIZE, drain.current().size());
            } catch (BlockIOException e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(Duration.ofSeconds(10)).until(swap::isDone);
        swap.join();
    }

    /**
     * The reply's data in offset order: OFFSET_DATA chunks (u64 offset, then data) and OFFSET_HOLE
     * chunks (u64 offset, u32 length of zeroes), as a whole-disk image.
     */
    private static byte[] assembled(List<WireClient.Reply> replies) {
        byte[] image = new byte[SIZE];
        for (WireClient.Reply reply : replies) {
            ByteBuffer b = ByteBuffer.wrap(reply.payload());
            assertEquals(0, reply.error());
            long offset = b.getLong();
            if (reply.type() == NbdReplyType.OFFSET_DATA.code()) {
                b.get(image, (int) offset, b.remaining());
            } else {
                assertEquals(NbdReplyType.OFFSET_HOLE.code(), reply.type());
            }
        }
        return image;
    }

    /** Passes everything through and counts the spans taken and not yet released. */
    private static final class SpanCounter implements BlockNode {
        private final BlockNode child;
        final AtomicInteger taken = new AtomicInteger();
        final AtomicInteger held = new AtomicInteger();

        SpanCounter(BlockNode child) {
            this.child = child;
        }

        @Override
        public FileSpan fileSpan(long offset, int length) throws BlockIOException {
            FileSpan span = child.fileSpan(offset, length);
            if (span == null) {
                return null;
            }
            taken.incrementAndGet();
            held.incrementAndGet();
            return span.alsoOnRelease(held::decrementAndGet);
        }

        @Override
        public long size() {
            return child.size();
        }

        @Override
        public Capabilities capabilities() {
            return child.capabilities();
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws BlockIOException {
            child.read(offset, dst);
        }

        @Override
        public void write(long offset, ByteBuffer src, Set<WriteFlag> flags) throws BlockIOException {
            child.write(offset, src, flags);
        }

        @Override
        public void writeZeroes(long offset, long length, Set<WriteFlag> flags) throws BlockIOException {
            child.writeZeroes(offset, length, flags);
        }

        @Override
        public void discard(long offset, long length) throws BlockIOException {
            child.discard(offset, length);
        }

        @Override
        public void flush() throws BlockIOException {
            child.flush();
        }

        @Override
        public List<Extent> blockStatus(long offset, long length) throws BlockIOException {
            return child.blockStatus(offset, length);
        }

        @Override
        public String describe() {
            return "span-counter(" + child.describe() + ")";
        }

        @Override
        public void close() {
        }
    }
}
