package org.fleeced.daemon.nbd.fuzz;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Random;

/**
 * Damages a generated stream the ways a hostile or broken client would: flipped bits, fields
 * overwritten with boundary values (lengths of 0, 2^31, 2^32-1, all ones), truncation, inserted
 * garbage, removed or repeated runs of bytes.
 */
final class NbdStreamMutator {
    private static final long[] INTERESTING = {0, 1, -1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fff_ffffL,
        0x8000_0000L, 0xffff_ffffL, 1L << 32, Long.MAX_VALUE, Long.MIN_VALUE, 32 << 20, (32 << 20) + 1, 64 << 10};

    private NbdStreamMutator() {
    }

    static byte[] mutate(byte[] stream, Random random) {
        byte[] bytes = stream;
        int mutations = random.nextInt(4);
        for (int i = 0; i < mutations && bytes.length > 0; i++) {
            bytes = switch (random.nextInt(6)) {
                case 0 -> flipBit(bytes, random);
                case 1 -> overwrite(bytes, random);
                case 2 -> Arrays.copyOf(bytes, random.nextInt(bytes.length));
                case 3 -> insert(bytes, random);
                case 4 -> remove(bytes, random);
                default -> repeat(bytes, random);
            };
        }
        return bytes;
    }

    private static byte[] flipBit(byte[] bytes, Random random) {
        byte[] copy = bytes.clone();
        copy[random.nextInt(copy.length)] ^= (byte) (1 << random.nextInt(8));
        return copy;
    }

    private static byte[] overwrite(byte[] bytes, Random random) {
        byte[] copy = bytes.clone();
        int width = new int[] {1, 2, 4, 8}[random.nextInt(4)];
        long value = INTERESTING[random.nextInt(INTERESTING.length)];
        int at = random.nextInt(copy.length);
        for (int i = 0; i < width && at + i < copy.length; i++) {
            copy[at + i] = (byte) (value >>> (8 * (width - 1 - i)));
        }
        return copy;
    }

    private static byte[] insert(byte[] bytes, Random random) {
        byte[] garbage = new byte[1 + random.nextInt(64)];
        random.nextBytes(garbage);
        int at = random.nextInt(bytes.length + 1);
        ByteArrayOutputStream out = new ByteArrayOutputStream(bytes.length + garbage.length);
        out.write(bytes, 0, at);
        out.writeBytes(garbage);
        out.write(bytes, at, bytes.length - at);
        return out.toByteArray();
    }

    private static byte[] remove(byte[] bytes, Random random) {
        int at = random.nextInt(bytes.length);
        int length = 1 + random.nextInt(Math.min(64, bytes.length - at));
        ByteArrayOutputStream out = new ByteArrayOutputStream(bytes.length);
        out.write(bytes, 0, at);
        out.write(bytes, at + length, bytes.length - at - length);
        return out.toByteArray();
    }

    private static byte[] repeat(byte[] bytes, Random random) {
        int at = random.nextInt(bytes.length);
        int length = 1 + random.nextInt(Math.min(128, bytes.length - at));
        ByteArrayOutputStream out = new ByteArrayOutputStream(bytes.length + length);
        out.write(bytes, 0, at + length);
        out.write(bytes, at, bytes.length - at);
        return out.toByteArray();
    }
}
