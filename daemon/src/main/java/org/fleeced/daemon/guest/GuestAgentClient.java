package org.fleeced.daemon.guest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One session with a QEMU guest agent over its unix socket (the QGA protocol: one JSON command per
 * line, one JSON answer per line, {@code {"return": ...}} or {@code {"error": {"class", "desc"}}}).
 *
 * <p>The agent keeps no sessions: a previous client may have left an answer unread, or half a
 * command in its parser. So every session starts with the 0xFF byte (which resets the agent's
 * parser) and {@code guest-sync-delimited} with a random id; the agent answers with 0xFF then
 * the id, and everything before that marker is stale and skipped.
 *
 * <p>Every call is bounded by the timeout given at connect: a hung agent (one that stopped
 * reading, or a guest that hangs in its freeze) has its socket closed under it, and the call
 * fails with a {@link GuestAgentException} that says so.
 */
public final class GuestAgentClient implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SYNC_MARKER = 0xFF;
    private static final int MAX_LINE = 1 << 20;
    /** Closes the sockets of calls that ran out of time; its thread is a daemon. */
    private static final ScheduledExecutorService DEADLINES = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "guest-agent-deadlines");
        t.setDaemon(true);
        return t;
    });

    private final Path socket;
    private final SocketChannel channel;
    private final Duration timeout;
    private final ByteBuffer in = ByteBuffer.allocate(8192).flip();

    private GuestAgentClient(Path socket, SocketChannel channel, Duration timeout) {
        this.socket = socket;
        this.channel = channel;
        this.timeout = timeout;
    }

    /** Connects and synchronizes with the agent; each later call is bounded by {@code timeout}. */
    public static GuestAgentClient connect(Path socket, Duration timeout) throws GuestAgentException {
        SocketChannel channel;
        try {
            channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        } catch (IOException e) {
            throw new GuestAgentException("cannot open a unix socket: " + e.getMessage(), e);
        }
        GuestAgentClient client = new GuestAgentClient(socket, channel, timeout);
        try {
            client.bounded("connect", () -> {
                channel.connect(UnixDomainSocketAddress.of(socket));
                return null;
            });
            client.sync();
            return client;
        } catch (GuestAgentException e) {
            client.close();
            throw e;
        }
    }

    /** Freezes the guest's file systems; returns how many the agent froze. */
    public int freeze() throws GuestAgentException {
        return execute("guest-fsfreeze-freeze").asInt();
    }

    /** Thaws the guest's file systems; returns how many the agent thawed. */
    public int thaw() throws GuestAgentException {
        return execute("guest-fsfreeze-thaw").asInt();
    }

    /** {@code frozen} or {@code thawed}, as the agent reports it. */
    public String status() throws GuestAgentException {
        return execute("guest-fsfreeze-status").asText();
    }

    private void sync() throws GuestAgentException {
        long id = ThreadLocalRandom.current().nextLong(1, Long.MAX_VALUE >>> 12);
        bounded("guest-sync-delimited", () -> {
            ByteBuffer out = ByteBuffer.allocate(1);
            out.put((byte) SYNC_MARKER).flip();
            writeFully(out);
            send(command("guest-sync-delimited").set("arguments", JSON.createObjectNode().put("id", id)));
            while (true) {
                while (nextByte() != SYNC_MARKER) {
                    // a stale answer from an earlier client, left unread: skipped
                }
                JsonNode answer = answer(readLine());
                if (answer.path("return").asLong() == id) {
                    return null;
                }
            }
        });
    }

    private JsonNode execute(String name) throws GuestAgentException {
        return bounded(name, () -> {
            send(command(name));
            JsonNode answer = answer(readLine());
            if (answer.has("error")) {
                JsonNode error = answer.get("error");
                throw new GuestAgentException(name + " failed in the guest: " + error.path("class").asText("error")
                        + ": " + error.path("desc").asText("(no description)"));
            }
            if (!answer.has("return")) {
                throw new GuestAgentException(name + ": the agent answered neither return nor error: " + answer);
            }
            return answer.get("return");
        });
    }

    private static ObjectNode command(String name) {
        return JSON.createObjectNode().put("execute", name);
    }

    private void send(ObjectNode command) throws IOException {
        writeFully(ByteBuffer.wrap((JSON.writeValueAsString(command) + "\n").getBytes(StandardCharsets.UTF_8)));
    }

    private JsonNode answer(String line) throws GuestAgentException {
        try {
            return JSON.readTree(line);
        } catch (IOException e) {
            throw new GuestAgentException("the agent sent a line that is not JSON: " + abbreviate(line), e);
        }
    }

    private String readLine() throws IOException, GuestAgentException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            int b = nextByte();
            if (b == '\n') {
                String text = line.toString(StandardCharsets.UTF_8).trim();
                if (!text.isEmpty()) {
                    return text;
                }
                continue;
            }
            if (line.size() >= MAX_LINE) {
                throw new GuestAgentException("the agent sent a line longer than " + MAX_LINE + " bytes");
            }
            line.write(b);
        }
    }

    private int nextByte() throws IOException {
        if (!in.hasRemaining()) {
            in.clear();
            int n = channel.read(in);
            in.flip();
            if (n < 0) {
                throw new IOException("the agent closed the connection");
            }
            if (n == 0) {
                return nextByte();
            }
        }
        return in.get() & 0xFF;
    }

    private void writeFully(ByteBuffer out) throws IOException {
        while (out.hasRemaining()) {
            channel.write(out);
        }
    }

    /** Runs one step of the protocol with the socket closed under it when it takes too long. */
    private <T> T bounded(String step, Step<T> body) throws GuestAgentException {
        ScheduledFuture<?> deadline = DEADLINES.schedule(this::close, timeout.toMillis(), TimeUnit.MILLISECONDS);
        try {
            return body.run();
        } catch (IOException e) {
            if (deadline.isDone()) {
                throw new GuestAgentException(step + " on " + socket + ": no answer within " + timeout.toMillis()
                        + " ms", e);
            }
            throw new GuestAgentException(step + " on " + socket + ": " + e.getMessage(), e);
        } finally {
            deadline.cancel(false);
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing to release beyond the descriptor, which close frees even when it reports an error
        }
    }

    @FunctionalInterface
    private interface Step<T> {
        T run() throws IOException, GuestAgentException;
    }
}
