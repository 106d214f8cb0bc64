package org.fleeced.daemon.nbd.fuzz;

import io.vertx.core.buffer.Buffer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Random;
import org.fleeced.daemon.nbd.protocol.NbdFrameDecoder;
import org.fleeced.daemon.nbd.protocol.NbdOption;
import org.fleeced.daemon.nbd.protocol.NbdRequest;
import org.fleeced.daemon.nbd.protocol.ReceivedBytes;

/**
 * One fuzz case: a generated and mutated stream, fed in odd-sized slices twice: to a bare
 * {@link NbdFrameDecoder} (exactly those slices), and over TCP to the fuzz server (one write and
 * flush per slice), the client reading everything the server sends until it closes. After the
 * last slice the client shuts its output down, as a client that went away does; the server must
 * then close the connection. A case fails when the server does not close within {@link #HANG_MILLIS}
 * (a hang); exceptions are caught by the caller's log and thread watchers.
 */
final class NbdFuzzCase {
    /** A generous bound: a case's stream is a few KiB to a few hundred KiB, answered in milliseconds. */
    static final int HANG_MILLIS = 30_000;

    private final long seed;
    private final byte[] stream;
    private final int[] slices;

    NbdFuzzCase(long seed) {
        this.seed = seed;
        Random random = new Random(seed);
        this.stream = NbdStreamMutator.mutate(NbdStreamGenerator.session(random), random);
        this.slices = slices(stream.length, random);
    }

    long seed() {
        return seed;
    }

    int length() {
        return stream.length;
    }

    /** The stream in hex with its slice sizes, to study a replayed case. */
    String describe() {
        return stream.length + " bytes in slices " + java.util.Arrays.toString(slices) + ": "
                + java.util.HexFormat.of().formatHex(stream);
    }

    /** Feeds the stream to a decoder alone; a decoder bug throws out of here. */
    void decode() {
        boolean[] extended = {false};
        NbdFrameDecoder[] decoder = new NbdFrameDecoder[1];
        decoder[0] = new NbdFrameDecoder(new NbdFrameDecoder.Listener() {
            @Override
            public void onClientFlags(int flags) {
            }

            @Override
            public void onOption(int option, long length, byte[] data) {
                if (option == NbdOption.EXTENDED_HEADERS.code()) {
                    extended[0] = true;
                } else if (option == NbdOption.GO.code() || option == NbdOption.EXPORT_NAME.code()) {
                    decoder[0].enterTransmission(extended[0]);
                }
            }

            @Override
            public void onRequest(NbdRequest request, ReceivedBytes payload) {
                if (payload != null && payload.byteBuffer().remaining() != payload.length()) {
                    throw new AssertionError("payload of " + payload.length() + " bytes gives a buffer of "
                            + payload.byteBuffer().remaining());
                }
            }

            @Override
            public void onFramingError(String reason) {
            }
        }, 64 << 10, 32 << 20);
        int at = 0;
        for (int slice : slices) {
            decoder[0].feed(Buffer.buffer().appendBytes(stream, at, slice));
            at += slice;
        }
    }

    /** Sends the stream to the server; returns the bytes the server answered; throws on a hang. */
    long send(int port) throws IOException, InterruptedException {
        try (Socket socket = new Socket("127.0.0.1", port)) {
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(HANG_MILLIS);
            long[] received = {0};
            boolean[] hung = {false};
            Thread drain = Thread.ofVirtual().start(() -> {
                byte[] buffer = new byte[64 << 10];
                try (InputStream in = socket.getInputStream()) {
                    for (int n; (n = in.read(buffer)) >= 0; ) {
                        received[0] += n;
                    }
                } catch (SocketTimeoutException e) {
                    hung[0] = true;
                } catch (IOException e) {
                    // reset by the server: a closed connection, as allowed
                }
            });
            OutputStream out = socket.getOutputStream();
            try {
                int at = 0;
                for (int slice : slices) {
                    out.write(stream, at, slice);
                    out.flush();
                    at += slice;
                }
                socket.shutdownOutput();
            } catch (IOException e) {
                // the server closed the connection before the stream ended: allowed
            }
            drain.join();
            if (hung[0]) {
                throw new AssertionError("case " + seed + ": the server neither answered nor closed for "
                        + HANG_MILLIS + " ms after a stream of " + stream.length + " bytes");
            }
            return received[0];
        }
    }

    /** Slice sizes that add up to {@code length}: single bytes or small odd sizes (short streams only), or larger runs. */
    private static int[] slices(int length, Random random) {
        int mode = random.nextInt(4);
        int max = switch (mode) {
            case 0 -> length <= 1024 ? 1 : length <= 16384 ? 7 : 4099;
            case 1 -> length <= 16384 ? 13 : 4099;
            case 2 -> 4099;
            default -> Math.max(1, length);
        };
        java.util.List<Integer> sizes = new java.util.ArrayList<>();
        for (int left = length; left > 0; ) {
            int size = Math.min(left, 1 + random.nextInt(max));
            sizes.add(size);
            left -= size;
        }
        return sizes.stream().mapToInt(Integer::intValue).toArray();
    }
}
