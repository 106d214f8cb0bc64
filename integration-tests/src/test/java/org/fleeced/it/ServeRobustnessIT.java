package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many connections send random, truncated and garbage handshakes and requests (a socket fuzzer
 * with a fixed, logged seed) to a read-only export, while a well-behaved client copies the whole
 * export and compares it with the image. The daemon must stay up with bounded memory, and the
 * well-behaved client must see no error.
 */
class ServeRobustnessIT {
    private static final Logger LOG = Logger.getLogger(ServeRobustnessIT.class.getName());
    private static final long SEED = 20261122L;
    private static final int CONNECTIONS = 400;

    @TempDir
    Path dir;

    @Test
    void garbageFromManyClientsLeavesTheServerServing() throws Exception {
        Tool.require("qemu-img");
        Path image = dir.resolve("disk.raw");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(32 << 20);
            byte[] data = new byte[4 << 20];
            new Random(SEED).nextBytes(data);
            file.write(data);
        }
        LOG.info("fuzz seed " + SEED);
        // The connection limit and the handshake timeout (the subjects of NbdServerLimitsTest and
        // NbdHandshakeTest) are left wide: on a loaded machine the server sees the fuzzers' closes late and the
        // well-behaved client's handshake takes seconds, and neither is what this test is about.
        try (ServedImage server = ServedImage.tcp(dir, image, "--read-only",
                "--max-connections", String.valueOf(2 * CONNECTIONS))) {
            URI uri = URI.create(server.uri());
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<?>> fuzzers = new ArrayList<>();
            for (int i = 0; i < CONNECTIONS; i++) {
                long seed = SEED + i;
                fuzzers.add(pool.submit(() -> fuzzOne(uri.getPort(), new Random(seed))));
            }
            for (int round = 0; round < 3; round++) {
                Tool same = Tool.run("qemu-img", "compare", "-f", "raw", "-F", "raw", image.toString(), server.uri());
                assertEquals(0, same.exit(), same.output() + server.log());
            }
            for (Future<?> f : fuzzers) {
                f.get();
            }
            pool.shutdown();
            Tool.run("qemu-img", "compare", "-f", "raw", "-F", "raw", image.toString(), server.uri()).ok();
            assertTrue(server.alive(), server.log());
            long rssKiB = rssKiB(server.pid());
            assertTrue(rssKiB < 1_000_000, "RSS " + rssKiB + " KiB");
            assertEquals(0, server.stop(), server.log());
        }
    }

    private static long rssKiB(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    /** One connection: a valid prefix of some length, then garbage, truncation or random requests. */
    private static void fuzzOne(int port, Random random) {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setSoTimeout(200);
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            InputStream in = socket.getInputStream();
            switch (random.nextInt(5)) {
                case 0 -> out.write(bytes(random, random.nextInt(200)));
                case 1 -> {
                    out.writeInt(random.nextBoolean() ? 3 : random.nextInt());
                    out.writeLong(0x49484156454F5054L);
                    out.writeInt(random.nextInt(16));
                    out.writeInt(random.nextInt(100_000));
                    out.write(bytes(random, random.nextInt(64)));
                }
                case 2 -> {
                    out.writeInt(3);
                    for (int i = 0; i < random.nextInt(8); i++) {
                        out.writeLong(0x49484156454F5054L);
                        out.writeInt(random.nextInt(14));
                        byte[] data = bytes(random, random.nextInt(40));
                        out.writeInt(data.length);
                        out.write(data);
                    }
                }
                default -> {
                    out.writeInt(3);
                    out.writeLong(0x49484156454F5054L);
                    out.writeInt(8);
                    out.writeInt(0);
                    out.writeLong(0x49484156454F5054L);
                    out.writeInt(7);
                    out.writeInt(6);
                    out.write(new byte[6]);
                    for (int i = 0; i < random.nextInt(20); i++) {
                        out.writeInt(random.nextInt(10) == 0 ? random.nextInt() : 0x25609513);
                        out.writeShort(random.nextInt(64));
                        out.writeShort(random.nextInt(10));
                        out.writeLong(random.nextLong());
                        out.writeLong(random.nextBoolean() ? random.nextInt(32 << 20) : random.nextLong());
                        out.writeInt(random.nextBoolean() ? random.nextInt(1 << 20) : random.nextInt());
                        if (random.nextBoolean()) {
                            out.write(bytes(random, random.nextInt(8192)));
                        }
                    }
                }
            }
            out.flush();
            drain(in);
        } catch (IOException e) {
            // the server may close on us at any point; that is one of the outcomes being fuzzed
        }
    }

    private static void drain(InputStream in) throws IOException {
        byte[] sink = new byte[65536];
        try {
            while (in.read(sink) >= 0) {
                // keep reading until the server stops talking
            }
        } catch (java.net.SocketTimeoutException e) {
            // nothing more for now; closing the socket is the next fuzzed event
        }
    }

    private static byte[] bytes(Random random, int length) {
        byte[] data = new byte[length];
        random.nextBytes(data);
        return data;
    }
}
