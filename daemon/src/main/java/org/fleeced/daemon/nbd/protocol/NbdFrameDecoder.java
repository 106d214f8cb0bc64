package org.fleeced.daemon.nbd.protocol;

import io.vertx.core.buffer.Buffer;

/**
 * Splits the client's byte stream into NBD messages: the client flags, options and requests.
 *
 * <p>Bytes arrive in slices of any size (TCP does not keep message boundaries); the decoder keeps
 * an explicit {@link State} and consumes exactly the bytes of the message it is in, so the bytes
 * that follow a message in the same slice are decoded under whatever state the listener set while
 * handling it (after NBD_OPT_GO the next byte is a request header).
 *
 * <p>Payloads are the only large messages, and their length is the client's word: nothing is
 * allocated from it. Option data up to {@code maxOptionBytes} and request payloads up to
 * {@code maxPayloadBytes} are kept as the socket slices they arrive in ({@link ReceivedBytes}), so
 * memory grows with the bytes actually received; every request payload byte is first admitted by
 * the {@link PayloadAdmission} (the server's in-flight budget), and when it admits less than
 * arrived the decoder pauses itself with the rest held. A payload is handed over only once it is
 * complete, so a request whose payload never fully arrived is never seen. A larger payload is
 * skipped without being stored (the stream stays in sync) and reported with a null payload; option
 * data above {@code maxOptionBytes} is skipped the same way.
 *
 * <p>Back-pressure: {@link #pause()} (typically called by the listener while it handles a request)
 * stops decoding at the end of the current message; the rest of the slice, and any slice fed while
 * paused, is held as received bytes until {@link #resume()}. The caller pauses its socket at the
 * same time, so what is held stays within the slices already read.
 *
 * <p>Not thread-safe: one decoder per connection, fed on the connection's event loop.
 */
public final class NbdFrameDecoder {

    /** What the next bytes are. */
    public enum State {
        /** u32 client flags after the greeting. */
        CLIENT_FLAGS,
        /** IHAVEOPT, u32 option, u32 length. */
        OPTION_HEADER,
        /** the option's data, collected. */
        OPTION_DATA,
        /** the option's data, skipped because it is too large. */
        OPTION_DISCARD,
        /** a 28-byte compact or 32-byte extended request header. */
        REQUEST_HEADER,
        /** a request's payload, collected. */
        REQUEST_PAYLOAD,
        /** a request's payload, skipped because it is too large. */
        PAYLOAD_DISCARD,
        /** nothing more is decoded (after DISC, ABORT, a protocol violation, or a closed connection). */
        STOPPED
    }

    /** Receives decoded messages, on the thread that feeds the decoder. */
    public interface Listener {
        void onClientFlags(int flags);

        /** An option with its data; {@code data} is null when it was too large and was skipped. */
        void onOption(int option, long length, byte[] data);

        /**
         * A request; {@code payload} is null when it carries none or when it was too large and
         * skipped. Every byte of a payload was admitted by the {@link PayloadAdmission}.
         */
        void onRequest(NbdRequest request, ReceivedBytes payload);

        /** The stream broke a framing MUST (bad magic); the decoder has stopped. */
        void onFramingError(String reason);
    }

    /**
     * Admits request payload bytes into memory as they arrive; called on the feeding thread with the
     * bytes of the current slice that belong to the payload.
     */
    public interface PayloadAdmission {
        /** Every byte, at once: for tests and servers without a budget. */
        PayloadAdmission UNLIMITED = wanted -> wanted;

        /**
         * How many of {@code wanted} bytes may be kept now, from 0 to {@code wanted}. Admitting fewer
         * pauses the decoder, the rest held, until whoever refused calls {@link #resume()}.
         */
        int admit(int wanted);
    }

    private static final int OPTION_HEADER_BYTES = 16;
    private static final int COMPACT_REQUEST_BYTES = 28;
    private static final int EXTENDED_REQUEST_BYTES = 32;

    private final Listener listener;
    private final PayloadAdmission admission;
    private final int maxOptionBytes;
    private final int maxPayloadBytes;

    private State state = State.CLIENT_FLAGS;
    /** Requests use 32-byte extended headers (set when entering transmission). */
    private boolean extendedHeaders;
    /** The fixed-size message being assembled; {@code headerFill} bytes of it are present. */
    private final byte[] header = new byte[EXTENDED_REQUEST_BYTES];
    private int headerFill;
    /** The option or request whose data or payload is being collected or skipped. */
    private int pendingOption;
    private long pendingOptionLength;
    private NbdRequest pendingRequest;
    /** The data or payload received so far, and the length its header announced. */
    private ReceivedBytes body;
    private int bodyLength;
    /** Messages completed since the start; a connection compares it to tell a stalled message from a stream of them. */
    private long messagesDecoded;
    /** Bytes still to skip in a DISCARD state (unsigned: extended payloads may exceed 2^63). */
    private long discardRemaining;
    /** No message is decoded while set; bytes fed meanwhile go to {@link #held}. */
    private boolean paused;
    /** Bytes received but not yet decoded because the decoder is paused; null when none. */
    private Buffer held;

    public NbdFrameDecoder(Listener listener, int maxOptionBytes, int maxPayloadBytes) {
        this(listener, PayloadAdmission.UNLIMITED, maxOptionBytes, maxPayloadBytes);
    }

    public NbdFrameDecoder(Listener listener, PayloadAdmission admission, int maxOptionBytes, int maxPayloadBytes) {
        this.listener = listener;
        this.admission = admission;
        this.maxOptionBytes = maxOptionBytes;
        this.maxPayloadBytes = maxPayloadBytes;
    }

    public State state() {
        return state;
    }

    /** Decodes requests from now on; call while handling the option that ends the handshake. */
    public void enterTransmission(boolean extended) {
        this.extendedHeaders = extended;
        this.state = State.REQUEST_HEADER;
        this.headerFill = 0;
    }

    /** Decodes options from now on (after STARTTLS). */
    public void expectOption() {
        this.state = State.OPTION_HEADER;
        this.headerFill = 0;
    }

    public void stop() {
        this.state = State.STOPPED;
        this.headerFill = 0;
        this.body = null;
        this.held = null;
    }

    /** Stops decoding after the message being handled; later bytes are held until {@link #resume()}. */
    public void pause() {
        paused = true;
    }

    public boolean paused() {
        return paused;
    }

    /** Whether part of a message has been decoded and the rest has not (received or held). */
    public boolean midMessage() {
        return state != State.STOPPED && (headerFill > 0 || held != null) || switch (state) {
            case OPTION_DATA, OPTION_DISCARD, REQUEST_PAYLOAD, PAYLOAD_DISCARD -> true;
            default -> false;
        };
    }

    /** How many messages were completed so far. */
    public long messagesDecoded() {
        return messagesDecoded;
    }

    /** Request payload bytes received and admitted for the request being decoded (not yet handed over). */
    public int partialPayloadBytes() {
        return state == State.REQUEST_PAYLOAD && body != null ? body.length() : 0;
    }

    /** Decodes the held bytes, then whatever is fed next; the listener may pause again meanwhile. */
    public void resume() {
        paused = false;
        Buffer pending = held;
        held = null;
        if (pending != null) {
            feed(pending);
        }
    }

    /** Bytes held while paused (for tests and accounting). */
    public int heldBytes() {
        return held == null ? 0 : held.length();
    }

    /**
     * Consumes the slice, calling the listener for each message it completes; when the decoder is
     * or becomes paused, the bytes not yet decoded are held instead.
     */
    public void feed(Buffer slice) {
        int position = 0;
        int end = slice.length();
        while (position < end && state != State.STOPPED) {
            if (paused) {
                Buffer rest = slice.getBuffer(position, end);
                held = held == null ? rest : held.appendBuffer(rest);
                return;
            }
            position = switch (state) {
                case CLIENT_FLAGS -> fillHeader(slice, position, 4);
                case OPTION_HEADER -> fillHeader(slice, position, OPTION_HEADER_BYTES);
                case REQUEST_HEADER -> fillHeader(slice, position,
                        extendedHeaders ? EXTENDED_REQUEST_BYTES : COMPACT_REQUEST_BYTES);
                case OPTION_DATA, REQUEST_PAYLOAD -> fillBody(slice, position);
                case OPTION_DISCARD, PAYLOAD_DISCARD -> skip(position, end);
                case STOPPED -> end;
            };
        }
    }

    private int fillHeader(Buffer slice, int position, int needed) {
        int take = Math.min(needed - headerFill, slice.length() - position);
        slice.getBytes(position, position + take, header, headerFill);
        headerFill += take;
        if (headerFill == needed) {
            headerFill = 0;
            headerComplete();
        }
        return position + take;
    }

    private void headerComplete() {
        messagesDecoded++;
        Buffer h = Buffer.buffer(header);
        switch (state) {
            case CLIENT_FLAGS -> {
                state = State.OPTION_HEADER;
                listener.onClientFlags(h.getInt(0));
            }
            case OPTION_HEADER -> optionHeader(h);
            case REQUEST_HEADER -> requestHeader(h);
            default -> throw new IllegalStateException("no header in state " + state);
        }
    }

    private void optionHeader(Buffer h) {
        if (h.getLong(0) != NbdMagic.IHAVEOPT.value()) {
            fail("option without IHAVEOPT magic");
            return;
        }
        int option = h.getInt(8);
        long length = h.getUnsignedInt(12);
        pendingOption = option;
        pendingOptionLength = length;
        if (length > maxOptionBytes) {
            discardRemaining = length;
            state = State.OPTION_DISCARD;
        } else {
            startBody((int) length, State.OPTION_DATA);
        }
    }

    private void requestHeader(Buffer h) {
        int magic = h.getInt(0);
        int expected = (extendedHeaders ? NbdMagic.EXTENDED_REQUEST_MAGIC : NbdMagic.REQUEST_MAGIC).intValue();
        if (magic != expected) {
            fail("request with magic 0x" + Integer.toHexString(magic) + ", expected 0x" + Integer.toHexString(expected));
            return;
        }
        long length = extendedHeaders ? h.getLong(24) : h.getUnsignedInt(24);
        NbdRequest request = new NbdRequest(h.getUnsignedShort(4), h.getUnsignedShort(6), h.getLong(8),
                h.getLong(16), length, extendedHeaders);
        if (!request.carriesPayload()) {
            listener.onRequest(request, null);
            return;
        }
        pendingRequest = request;
        if (Long.compareUnsigned(length, maxPayloadBytes) > 0) {
            discardRemaining = length;
            state = State.PAYLOAD_DISCARD;
        } else {
            startBody((int) length, State.REQUEST_PAYLOAD);
        }
    }

    private void startBody(int length, State collecting) {
        body = new ReceivedBytes();
        bodyLength = length;
        state = collecting;
        if (length == 0) {
            bodyComplete();
        }
    }

    private int fillBody(Buffer slice, int position) {
        int take = Math.min(bodyLength - body.length(), slice.length() - position);
        if (state == State.REQUEST_PAYLOAD) {
            int admitted = admission.admit(take);
            if (admitted < take) {
                paused = true;
                take = Math.max(0, admitted);
            }
        }
        body.append(slice, position, position + take);
        if (body.length() == bodyLength) {
            bodyComplete();
        }
        return position + take;
    }

    private void bodyComplete() {
        messagesDecoded++;
        ReceivedBytes complete = body;
        body = null;
        if (state == State.OPTION_DATA) {
            state = State.OPTION_HEADER;
            listener.onOption(pendingOption, complete.length(), complete.bytes());
        } else {
            state = State.REQUEST_HEADER;
            NbdRequest request = pendingRequest;
            pendingRequest = null;
            listener.onRequest(request, complete);
        }
    }

    private int skip(int position, int end) {
        long available = end - position;
        long take = Long.compareUnsigned(discardRemaining, available) < 0 ? discardRemaining : available;
        discardRemaining -= take;
        if (discardRemaining == 0) {
            messagesDecoded++;
            if (state == State.OPTION_DISCARD) {
                state = State.OPTION_HEADER;
                listener.onOption(pendingOption, pendingOptionLength, null);
            } else {
                state = State.REQUEST_HEADER;
                NbdRequest request = pendingRequest;
                pendingRequest = null;
                listener.onRequest(request, null);
            }
        }
        return position + (int) take;
    }

    private void fail(String reason) {
        stop();
        listener.onFramingError(reason);
    }
}
