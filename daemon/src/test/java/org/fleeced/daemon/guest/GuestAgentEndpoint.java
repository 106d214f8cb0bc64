package org.fleeced.daemon.guest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;

/**
 * A QEMU guest agent as the daemon sees it: a unix socket speaking the QGA protocol (JSON lines;
 * {@code guest-sync-delimited} answered after the 0xFF marker; {@code guest-fsfreeze-freeze},
 * {@code -thaw}, {@code -status}). It records the calls in order, runs a test's action while it
 * handles a freeze or a thaw (a guest's file system writes while freezing), and can be told to
 * answer a command with an error or never to answer it. The daemon's unit tests and the
 * integration tests (through this module's test-jar) share it.
 */
public final class GuestAgentEndpoint implements AutoCloseable {
    public static final String FREEZE = "guest-fsfreeze-freeze";
    public static final String THAW = "guest-fsfreeze-thaw";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** How the agent handles a command: answers, answers with an error, or never answers. */
    public enum Behaviour { ANSWER, FAIL, HANG }

    /** Something the test does while the agent handles a command, before it answers. */
    @FunctionalInterface
    public interface Action {
        void run() throws Exception;
    }

    private final Path socket;
    private final ServerSocketChannel server;
    private final List<String> calls = new CopyOnWriteArrayList<>();
    private final Map<String, List<Behaviour>> scripted = new ConcurrentHashMap<>();
    private final Map<String, Action> actions = new ConcurrentHashMap<>();
    private final List<SocketChannel> sessions = new CopyOnWriteArrayList<>();
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile boolean frozen;

    private GuestAgentEndpoint(Path socket, ServerSocketChannel server) {
        this.socket = socket;
        this.server = server;
    }

    /** Listens on {@code socket} (its directory is created). */
    public static GuestAgentEndpoint listen(Path socket) throws IOException {
        Files.createDirectories(socket.getParent());
        Files.deleteIfExists(socket);
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        GuestAgentEndpoint agent = new GuestAgentEndpoint(socket, server);
        Thread.ofVirtual().name("qga-" + socket.getFileName()).start(agent::accept);
        return agent;
    }

    public Path socket() {
        return socket;
    }

    /** The commands received so far, in order (sync commands included). */
    public List<String> calls() {
        return List.copyOf(calls);
    }

    /** The freeze and thaw commands received so far, in order. */
    public List<String> freezesAndThaws() {
        return calls.stream().filter(c -> c.equals(FREEZE) || c.equals(THAW)).toList();
    }

    public boolean frozen() {
        return frozen;
    }

    /** The next calls of {@code command} behave as listed, in turn; later ones answer. */
    public GuestAgentEndpoint script(String command, Behaviour... next) {
        scripted.computeIfAbsent(command, k -> new CopyOnWriteArrayList<>()).addAll(List.of(next));
        return this;
    }

    /** Runs {@code action} whenever {@code command} is handled, before the answer. */
    public GuestAgentEndpoint during(String command, Action action) {
        actions.put(command, action);
        return this;
    }

    private void accept() {
        try {
            while (true) {
                SocketChannel session = server.accept();
                sessions.add(session);
                Thread.ofVirtual().start(() -> serve(session));
            }
        } catch (IOException e) {
            closed.countDown();
        }
    }

    private void serve(SocketChannel session) {
        try (session) {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(4096);
            while (session.read(in.clear()) >= 0) {
                in.flip();
                while (in.hasRemaining()) {
                    int b = in.get() & 0xFF;
                    if (b == 0xFF) {
                        line.reset(); // the client's parser reset: whatever came before is dropped
                    } else if (b == '\n') {
                        if (line.size() > 0 && !handle(session, JSON.readTree(line.toByteArray()))) {
                            return;
                        }
                        line.reset();
                    } else {
                        line.write(b);
                    }
                }
            }
        } catch (Exception e) {
            // the daemon closed the session (e.g. at its timeout): the next one starts afresh
        }
    }

    /** Handles one command; false when the session must hang (no answer, ever). */
    private boolean handle(SocketChannel session, JsonNode command) throws Exception {
        String name = command.path("execute").asText();
        calls.add(name);
        List<Behaviour> queue = scripted.getOrDefault(name, List.of());
        Behaviour behaviour = queue.isEmpty() ? Behaviour.ANSWER : queue.removeFirst();
        if (behaviour == Behaviour.HANG) {
            closed.await();
            return false;
        }
        Action action = actions.get(name);
        if (action != null) {
            action.run();
        }
        if (behaviour == Behaviour.FAIL) {
            reply(session, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"scripted failure of " + name + "\"}}");
            return true;
        }
        switch (name) {
            case "guest-sync-delimited" -> {
                session.write(ByteBuffer.wrap(new byte[] {(byte) 0xFF}));
                reply(session, "{\"return\": " + command.path("arguments").path("id").asLong() + "}");
            }
            case FREEZE -> {
                frozen = true;
                reply(session, "{\"return\": 2}");
            }
            case THAW -> {
                int thawed = frozen ? 2 : 0;
                frozen = false;
                reply(session, "{\"return\": " + thawed + "}");
            }
            case "guest-fsfreeze-status" -> reply(session, "{\"return\": \"" + (frozen ? "frozen" : "thawed") + "\"}");
            default -> reply(session, "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command " + name
                    + " has not been found\"}}");
        }
        return true;
    }

    private static void reply(SocketChannel session, String json) throws IOException {
        ByteBuffer out = ByteBuffer.wrap((json + "\n").getBytes(StandardCharsets.UTF_8));
        while (out.hasRemaining()) {
            session.write(out);
        }
    }

    @Override
    public void close() throws IOException {
        closed.countDown();
        server.close();
        for (SocketChannel s : new ArrayList<>(sessions)) {
            s.close();
        }
        Files.deleteIfExists(socket);
    }
}
