package org.fleeced.daemon.nbd.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.buffer.Buffer;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Annotated byte fixtures fed to the decoder in slices of odd sizes (Netty's codec tests): whatever
 * the slicing, the same messages come out, in order, with the same fields.
 */
class NbdFrameDecoderTest {

    /** Client flags, NBD_OPT_STRUCTURED_REPLY, NBD_OPT_GO "rw", then two requests (a WRITE with payload, a READ). */
    private static final String SESSION = String.join("",
            "00000003",                                 // client flags: C_FIXED_NEWSTYLE | C_NO_ZEROES
            "49484156454f5054", "00000008", "00000000", // IHAVEOPT, STRUCTURED_REPLY, no data
            "49484156454f5054", "00000007", "00000008", // IHAVEOPT, GO, 8 bytes
            "00000002", "7277", "0000",                 //   name length 2, "rw", no info requests
            "25609513", "0001", "0001",                 // request magic, flags FUA, WRITE
            "0000000000000005", "0000000000001000",     //   cookie 5, offset 4096
            "00000003", "aabbcc",                       //   length 3, payload
            "25609513", "0000", "0000",                 // request magic, no flags, READ
            "0000000000000006", "0000000000000000", "00000200"); // cookie 6, offset 0, length 512

    private static final class Recorder implements NbdFrameDecoder.Listener {
        final List<String> events = new ArrayList<>();
        NbdFrameDecoder decoder;
        /** Pause the decoder after each request, as a connection does when its in-flight budget is spent. */
        boolean pauseOnRequest;

        @Override
        public void onClientFlags(int flags) {
            events.add("flags " + flags);
        }

        @Override
        public void onOption(int option, long length, byte[] data) {
            events.add("option " + NbdOption.describe(option) + " " + (data == null ? "skipped " + length : HexFormat.of().formatHex(data)));
            if (option == NbdOption.GO.code()) {
                decoder.enterTransmission(false);
            }
        }

        @Override
        public void onRequest(NbdRequest request, ReceivedBytes payload) {
            events.add(request.describe() + (payload == null ? "" : " payload " + HexFormat.of().formatHex(payload.bytes())));
            if (pauseOnRequest) {
                decoder.pause();
            }
        }

        @Override
        public void onFramingError(String reason) {
            events.add("error " + reason);
        }
    }

    private static List<String> decode(String hex, int sliceSize, int maxPayload) {
        Recorder recorder = new Recorder();
        NbdFrameDecoder decoder = new NbdFrameDecoder(recorder, 64, maxPayload);
        recorder.decoder = decoder;
        byte[] bytes = HexFormat.of().parseHex(hex);
        for (int i = 0; i < bytes.length; i += sliceSize) {
            decoder.feed(Buffer.buffer().appendBytes(bytes, i, Math.min(sliceSize, bytes.length - i)));
        }
        return recorder.events;
    }

    @ParameterizedTest(name = "slices of {0} bytes")
    @ValueSource(ints = {1, 2, 3, 5, 7, 13, 29, 1000})
    void anySlicingGivesTheSameMessages(int sliceSize) {
        assertEquals(List.of(
                "flags 3",
                "option STRUCTURED_REPLY ",
                "option GO 000000027277" + "0000",
                "WRITE cookie=5 offset=4096 length=3 flags=0x1 payload aabbcc",
                "READ cookie=6 offset=0 length=512 flags=0x0"), decode(SESSION, sliceSize, 1024));
    }

    @ParameterizedTest(name = "slices of {0} bytes")
    @ValueSource(ints = {1, 4, 11})
    void aPayloadAboveTheLimitIsSkippedAndTheStreamStaysInSync(int sliceSize) {
        List<String> events = decode(SESSION, sliceSize, 2);
        assertEquals("WRITE cookie=5 offset=4096 length=3 flags=0x1", events.get(3));
        assertEquals("READ cookie=6 offset=0 length=512 flags=0x0", events.get(4));
    }

    @ParameterizedTest(name = "slices of {0} bytes")
    @ValueSource(ints = {1, 6})
    void optionDataAboveTheLimitIsSkipped(int sliceSize) {
        String big = "00000000" + "49484156454f5054" + "00000003" + "00000080" + "00".repeat(128)
                + "49484156454f5054" + "00000002" + "00000000";
        assertEquals(List.of("flags 0", "option LIST skipped 128", "option ABORT "), decode(big, sliceSize, 1024));
    }

    @ParameterizedTest(name = "slices of {0} bytes")
    @ValueSource(ints = {1, 9})
    void aBadMagicStopsTheDecoder(int sliceSize) {
        String bad = "00000001" + "0102030405060708" + "00000001" + "00000000" + "49484156454f5054";
        List<String> events = decode(bad, sliceSize, 1024);
        assertEquals(2, events.size());
        assertEquals("error option without IHAVEOPT magic", events.get(1));
    }

    @ParameterizedTest(name = "slices of {0} bytes")
    @ValueSource(ints = {1, 10})
    void extendedRequestsHaveA64BitLengthAndAPayloadOnlyWithPayloadLen(int sliceSize) {
        Recorder recorder = new Recorder();
        NbdFrameDecoder decoder = new NbdFrameDecoder(recorder, 64, 1024);
        decoder.enterTransmission(true);
        String hex = "21e41c71" + "0020" + "0007" + "0000000000000001" + "0000000000000000" + "000000000000000c"
                + "0000000000001000" + "00000000"           // BLOCK_STATUS with PAYLOAD_LEN: u64 length, id 0
                + "21e41c71" + "0000" + "0000" + "0000000000000002" + "0000000000000200" + "0000000100000000";
        byte[] bytes = HexFormat.of().parseHex(hex);
        for (int i = 0; i < bytes.length; i += sliceSize) {
            decoder.feed(Buffer.buffer().appendBytes(bytes, i, Math.min(sliceSize, bytes.length - i)));
        }
        assertEquals(List.of(
                "BLOCK_STATUS cookie=1 offset=0 length=12 flags=0x20 payload 000000000000100000000000",
                "READ cookie=2 offset=512 length=4294967296 flags=0x0"), recorder.events);
    }

    @ParameterizedTest(name = "slices of {0} bytes")
    @ValueSource(ints = {1, 7, 1000})
    void aPauseDuringARequestHoldsTheRestUntilResume(int sliceSize) {
        Recorder recorder = new Recorder();
        recorder.pauseOnRequest = true;
        NbdFrameDecoder decoder = new NbdFrameDecoder(recorder, 64, 1024);
        recorder.decoder = decoder;
        byte[] bytes = HexFormat.of().parseHex(SESSION);
        for (int i = 0; i < bytes.length; i += sliceSize) {
            decoder.feed(Buffer.buffer().appendBytes(bytes, i, Math.min(sliceSize, bytes.length - i)));
        }
        assertEquals("WRITE cookie=5 offset=4096 length=3 flags=0x1 payload aabbcc", recorder.events.getLast());
        assertEquals(28, decoder.heldBytes(), "the READ that followed is held, undecoded");
        decoder.resume();
        assertEquals("READ cookie=6 offset=0 length=512 flags=0x0", recorder.events.getLast());
        assertEquals(5, recorder.events.size());
        assertEquals(0, decoder.heldBytes());
    }

    /** Admits at most {@code allowance} payload bytes in all, as the server's budget does when it is nearly spent. */
    private static final class Allowance implements NbdFrameDecoder.PayloadAdmission {
        long allowance;
        long admitted;
        int refusals;

        Allowance(long allowance) {
            this.allowance = allowance;
        }

        @Override
        public int admit(int wanted) {
            int granted = (int) Math.min(wanted, allowance - admitted);
            admitted += granted;
            if (granted < wanted) {
                refusals++;
            }
            return granted;
        }
    }

    /** A compact WRITE header announcing {@code length} payload bytes. */
    private static String writeHeader(long cookie, long length) {
        return "25609513" + "0000" + "0001" + String.format("%016x", cookie) + "0000000000000000" + String.format("%08x", length);
    }

    private static void feed(NbdFrameDecoder decoder, byte[] bytes, int sliceSize) {
        for (int i = 0; i < bytes.length; i += sliceSize) {
            decoder.feed(Buffer.buffer().appendBytes(bytes, i, Math.min(sliceSize, bytes.length - i)));
        }
    }

    @ParameterizedTest(name = "slices of {0} bytes")
    @ValueSource(ints = {1, 3, 29, 4096})
    void aHeaderAnnouncing32MiBWithOneByteHoldsOneByte(int sliceSize) {
        Recorder recorder = new Recorder();
        Allowance allowance = new Allowance(Long.MAX_VALUE);
        NbdFrameDecoder decoder = new NbdFrameDecoder(recorder, allowance, 64, 32 << 20);
        decoder.enterTransmission(false);
        feed(decoder, HexFormat.of().parseHex(writeHeader(1, 32 << 20) + "ab"), sliceSize);
        assertEquals(List.of(), recorder.events, "the payload is not complete, nothing is handed over");
        assertEquals(1, allowance.admitted, "only the byte that arrived was admitted");
        assertEquals(1, decoder.partialPayloadBytes());
        assertTrue(decoder.midMessage());
    }

    @ParameterizedTest(name = "slices of {0} bytes")
    @ValueSource(ints = {1, 2, 7, 13, 100, 4099, 70000})
    void aPayloadAdmittedPieceByPieceArrivesWholeAndTheNextRequestFollows(int sliceSize) {
        byte[] data = new byte[65536 + 13];
        new java.util.Random(sliceSize).nextBytes(data);
        String stream = writeHeader(7, data.length) + HexFormat.of().formatHex(data)
                + "25609513" + "0000" + "0000" + "0000000000000008" + "0000000000000000" + "00000200";
        Recorder recorder = new Recorder();
        Allowance allowance = new Allowance(1000);
        NbdFrameDecoder decoder = new NbdFrameDecoder(recorder, allowance, 64, 1 << 20);
        decoder.enterTransmission(false);
        feed(decoder, HexFormat.of().parseHex(stream), sliceSize);
        int rounds = 0;
        while (recorder.events.size() < 2) {
            assertTrue(decoder.paused(), "a refused byte pauses the decoder");
            assertEquals(allowance.admitted, decoder.partialPayloadBytes());
            allowance.allowance += 4000 + rounds++;
            decoder.resume();
        }
        assertTrue(rounds > 10, "the payload needed many admissions: " + rounds);
        assertEquals(data.length, allowance.admitted);
        assertEquals(writeHeaderDescription(7, data.length) + " payload " + HexFormat.of().formatHex(data),
                recorder.events.get(0));
        assertEquals("READ cookie=8 offset=0 length=512 flags=0x0", recorder.events.get(1));
        assertEquals(0, decoder.heldBytes());
    }

    private static String writeHeaderDescription(long cookie, long length) {
        return "WRITE cookie=" + cookie + " offset=0 length=" + length + " flags=0x0";
    }

    @ParameterizedTest(name = "slices of {0} bytes")
    @ValueSource(ints = {1, 5, 64, 4096})
    void payloadsInOddSlicesGiveTheSameBytesAsOneBuffer(int sliceSize) {
        byte[] data = new byte[5000];
        new java.util.Random(42).nextBytes(data);
        Recorder recorder = new Recorder();
        List<ReceivedBytes> payloads = new ArrayList<>();
        NbdFrameDecoder decoder = new NbdFrameDecoder(new NbdFrameDecoder.Listener() {
            @Override
            public void onClientFlags(int flags) {
            }

            @Override
            public void onOption(int option, long length, byte[] optionData) {
            }

            @Override
            public void onRequest(NbdRequest request, ReceivedBytes payload) {
                payloads.add(payload);
            }

            @Override
            public void onFramingError(String reason) {
                recorder.events.add(reason);
            }
        }, 64, 1 << 20);
        decoder.enterTransmission(false);
        feed(decoder, HexFormat.of().parseHex(writeHeader(1, data.length) + HexFormat.of().formatHex(data)), sliceSize);
        assertEquals(1, payloads.size());
        java.nio.ByteBuffer whole = payloads.getFirst().byteBuffer();
        assertEquals(0, whole.position());
        assertEquals(data.length, whole.remaining());
        byte[] copy = new byte[data.length];
        whole.get(copy);
        org.junit.jupiter.api.Assertions.assertArrayEquals(data, copy);
        assertEquals(List.of(), recorder.events);
    }
}
