package org.fleeced.daemon.nbd.fuzz;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdMagic;
import org.fleeced.daemon.nbd.protocol.NbdOption;

/**
 * One fuzz case's client byte stream, structure-aware: a plausible session (client flags, options
 * in random order with mostly valid data, GO or EXPORT_NAME or ABORT, then requests with mostly
 * valid fields and payloads), which {@link NbdStreamMutator} then damages. What the generator knows
 * about the session (whether extended headers were asked for) is only its own guess: the mutations
 * may make the server see something else, which is the point.
 */
final class NbdStreamGenerator {
    /** Every export the fuzz server publishes, and a name it does not. */
    static final List<String> EXPORTS = List.of("rw", "ro", "fleece", "qcow2", "", "missing");
    private static final long EXPORT_SIZE = 1 << 20;
    private static final long[] INTERESTING_LENGTHS = {0, 1, 511, 512, 4096, 65536, 65537, 32 << 20, (32 << 20) + 1,
        0xffff_ffffL, 0x8000_0000L, EXPORT_SIZE, EXPORT_SIZE - 1};
    private static final long[] INTERESTING_OFFSETS = {0, 1, 512, EXPORT_SIZE - 512, EXPORT_SIZE, EXPORT_SIZE + 512,
        Long.MAX_VALUE, -1, -512, 1L << 32};

    private final Random random;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private boolean extended;

    private NbdStreamGenerator(Random random) {
        this.random = random;
    }

    static byte[] session(Random random) {
        return new NbdStreamGenerator(random).generate();
    }

    private byte[] generate() {
        u32(random.nextInt(8) == 0 ? random.nextInt(8) : 3);
        int options = random.nextInt(6);
        for (int i = 0; i < options; i++) {
            option();
        }
        switch (random.nextInt(10)) {
            case 0 -> option(NbdOption.ABORT.code(), new byte[0]);
            case 1 -> option(NbdOption.EXPORT_NAME.code(), utf8(export()));
            case 2 -> {
                return out.toByteArray();
            }
            default -> option(NbdOption.GO.code(), infoRequest(export()));
        }
        int requests = random.nextInt(24);
        for (int i = 0; i < requests; i++) {
            request(i);
        }
        if (random.nextBoolean()) {
            header(0, NbdCommand.DISC.code(), requests, 0, 0);
        }
        return out.toByteArray();
    }

    private void option() {
        NbdOption[] all = NbdOption.values();
        NbdOption option = all[random.nextInt(all.length)];
        switch (option) {
            case STRUCTURED_REPLY, LIST, STARTTLS, ABORT -> option(option.code(), new byte[0]);
            case EXTENDED_HEADERS -> {
                extended = true;
                option(option.code(), new byte[0]);
            }
            case INFO -> option(option.code(), infoRequest(export()));
            case SET_META_CONTEXT, LIST_META_CONTEXT -> option(option.code(), metaContexts(export()));
            case GO, EXPORT_NAME -> option(NbdOption.STRUCTURED_REPLY.code(), new byte[0]);
            default -> option(random.nextInt(64), randomBytes(random.nextInt(40)));
        }
    }

    private void option(int code, byte[] data) {
        u64(NbdMagic.IHAVEOPT.value());
        u32(code);
        u32(data.length);
        out.writeBytes(data);
    }

    private void request(int cookie) {
        int type = random.nextInt(12) == 0 ? random.nextInt(16) : pick(NbdCommand.READ, NbdCommand.WRITE,
                NbdCommand.FLUSH, NbdCommand.TRIM, NbdCommand.CACHE, NbdCommand.WRITE_ZEROES, NbdCommand.BLOCK_STATUS);
        long offset = random.nextInt(6) == 0 ? INTERESTING_OFFSETS[random.nextInt(INTERESTING_OFFSETS.length)]
                : 512L * random.nextInt((int) (EXPORT_SIZE / 512));
        long length = random.nextInt(6) == 0 ? INTERESTING_LENGTHS[random.nextInt(INTERESTING_LENGTHS.length)]
                : 512L * (1 + random.nextInt(8));
        int flags = random.nextInt(5) == 0 ? random.nextInt(1 << 8) : 0;
        if (type == NbdCommand.FLUSH.code()) {
            offset = 0;
            length = 0;
        }
        byte[] payload = null;
        if (type == NbdCommand.WRITE.code()) {
            payload = randomBytes((int) Math.min(length, 64 << 10));
            length = payload.length;
            if (extended) {
                flags |= NbdCommandFlag.PAYLOAD_LEN.mask();
            }
        } else if (type == NbdCommand.BLOCK_STATUS.code() && extended && random.nextInt(3) == 0) {
            flags |= NbdCommandFlag.PAYLOAD_LEN.mask();
            payload = ByteBuffer.allocate(12).putLong(length).putInt(random.nextInt(3)).array();
            length = payload.length;
        }
        header(flags, type, cookie, offset, length);
        if (payload != null) {
            out.writeBytes(payload);
        }
    }

    private void header(int flags, int type, long cookie, long offset, long length) {
        u32(extended ? NbdMagic.EXTENDED_REQUEST_MAGIC.intValue() : NbdMagic.REQUEST_MAGIC.intValue());
        out.write(flags >> 8);
        out.write(flags);
        out.write(type >> 8);
        out.write(type);
        u64(cookie);
        u64(offset);
        if (extended) {
            u64(length);
        } else {
            u32((int) length);
        }
    }

    private String export() {
        return EXPORTS.get(random.nextInt(EXPORTS.size()));
    }

    private byte[] infoRequest(String export) {
        byte[] name = utf8(export);
        int infos = random.nextInt(4);
        ByteBuffer b = ByteBuffer.allocate(4 + name.length + 2 + 2 * infos).putInt(name.length).put(name).putShort((short) infos);
        for (int i = 0; i < infos; i++) {
            b.putShort((short) random.nextInt(5));
        }
        return b.array();
    }

    private byte[] metaContexts(String export) {
        List<String> known = List.of("base:allocation", "qemu:allocation-depth", "qemu:dirty-bitmap:x", "base:", "qemu:", "x");
        byte[] name = utf8(export);
        int count = random.nextInt(4);
        ByteArrayOutputStream queries = new ByteArrayOutputStream();
        for (int i = 0; i < count; i++) {
            byte[] query = utf8(known.get(random.nextInt(known.size())));
            queries.writeBytes(ByteBuffer.allocate(4).putInt(query.length).array());
            queries.writeBytes(query);
        }
        return ByteBuffer.allocate(4 + name.length + 4 + queries.size()).putInt(name.length).put(name).putInt(count)
                .put(queries.toByteArray()).array();
    }

    private int pick(NbdCommand... commands) {
        return commands[random.nextInt(commands.length)].code();
    }

    private byte[] randomBytes(int length) {
        byte[] bytes = new byte[length];
        random.nextBytes(bytes);
        return bytes;
    }

    private void u32(int value) {
        out.writeBytes(ByteBuffer.allocate(4).putInt(value).array());
    }

    private void u64(long value) {
        out.writeBytes(ByteBuffer.allocate(8).putLong(value).array());
    }

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
