package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * One fuzz case's image while it is being mutated: the bytes, the map of the valid image they
 * came from, the case's random source, and a log of every step taken (printed with a failure, so
 * that it reads as what was done to the image). The value pickers favour what breaks parsers:
 * zero, all ones, sign bits, off by one, off by a cluster, and offsets of other metadata.
 */
final class Qcow2Mutation {
    private byte[] bytes;
    private final Qcow2ImageMap map;
    private final Random random;
    private final List<String> steps = new ArrayList<>();

    Qcow2Mutation(Qcow2BaseImages.Base base, Random random) {
        this.bytes = base.bytes().clone();
        this.map = base.map();
        this.random = random;
    }

    byte[] bytes() {
        return bytes;
    }

    Qcow2ImageMap map() {
        return map;
    }

    Random random() {
        return random;
    }

    List<String> steps() {
        return steps;
    }

    int clusterSize() {
        return map.clusterSize();
    }

    void log(String step) {
        steps.add(step);
    }

    boolean fits(long offset, int width) {
        return offset >= 0 && offset + width <= bytes.length;
    }

    long getLong(long offset) {
        return fits(offset, 8) ? ByteBuffer.wrap(bytes).getLong((int) offset) : 0;
    }

    int getInt(long offset) {
        return fits(offset, 4) ? ByteBuffer.wrap(bytes).getInt((int) offset) : 0;
    }

    /** Writes a big-endian field of 1, 2, 4 or 8 bytes and logs it; out of range is skipped. */
    void put(String what, long offset, int width, long value) {
        if (!fits(offset, width)) {
            return;
        }
        ByteBuffer b = ByteBuffer.wrap(bytes);
        switch (width) {
            case 1 -> b.put((int) offset, (byte) value);
            case 2 -> b.putShort((int) offset, (short) value);
            case 4 -> b.putInt((int) offset, (int) value);
            default -> b.putLong((int) offset, value);
        }
        log(String.format("%s @%d := 0x%x", what, offset, width == 8 ? value : value & ((1L << (8 * width)) - 1)));
    }

    void putBytes(String what, long offset, byte[] data) {
        if (!fits(offset, data.length)) {
            return;
        }
        System.arraycopy(data, 0, bytes, (int) offset, data.length);
        log(what + " @" + offset + " := " + data.length + " bytes");
    }

    /** {@code length} bytes from {@code offset}; what lies outside the (maybe truncated) image reads as zeroes. */
    byte[] copyOf(long offset, int length) {
        byte[] copy = new byte[Math.max(0, length)];
        for (int i = 0; i < copy.length; i++) {
            copy[i] = fits(offset + i, 1) ? bytes[(int) (offset + i)] : 0;
        }
        return copy;
    }

    void truncate(int length) {
        bytes = Arrays.copyOf(bytes, length);
        log("truncate to " + length);
    }

    /** A value for a 64-bit offset or size field that currently holds {@code current}. */
    long interestingLong(long current) {
        long cluster = clusterSize();
        return switch (random.nextInt(14)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> Long.MAX_VALUE;
            case 3 -> Long.MIN_VALUE;
            case 4 -> current + 1;
            case 5 -> current - 1;
            case 6 -> current + cluster;
            case 7 -> current - cluster;
            case 8 -> current ^ (1L << random.nextInt(64));
            case 9 -> bytes.length;
            case 10 -> 1L << random.nextInt(63);
            case 11 -> current * 2 + random.nextInt(3);
            case 12 -> random.nextLong();
            default -> target();
        };
    }

    /** A value for a 32-bit count or size field that currently holds {@code current}. */
    int interestingInt(int current) {
        return switch (random.nextInt(12)) {
            case 0 -> 0;
            case 1 -> -1;
            case 2 -> Integer.MAX_VALUE;
            case 3 -> Integer.MIN_VALUE;
            case 4 -> current + 1;
            case 5 -> current - 1;
            case 6 -> current * 2;
            case 7 -> current ^ (1 << random.nextInt(32));
            case 8 -> 65535 + random.nextInt(3);
            case 9 -> random.nextInt(64);
            case 10 -> current / 2;
            default -> random.nextInt();
        };
    }

    /** A host offset worth pointing an entry at: other metadata, the end of the file, or just anywhere. */
    long target() {
        List<Long> targets = map.interestingTargets(bytes.length);
        long t = targets.get(random.nextInt(targets.size()));
        return switch (random.nextInt(6)) {
            case 0 -> t + 512L * random.nextInt(4);
            case 1 -> (random.nextLong(Math.max(1, bytes.length)) / clusterSize()) * clusterSize();
            case 2 -> t << random.nextInt(1, 20);
            default -> t;
        };
    }

    /** A random region from {@code regions}, or null when there is none. */
    Qcow2ImageMap.Region pick(List<Qcow2ImageMap.Region> regions) {
        return regions.isEmpty() ? null : regions.get(random.nextInt(regions.size()));
    }

    /**
     * A random 8-byte slot of a table, preferring slots that hold something (the interesting
     * ones), or -1 when the table has no slot inside the file.
     */
    long pickSlot(Qcow2ImageMap.Region table) {
        int slots = table.length() / 8;
        if (slots <= 0 || !fits(table.offset(), 8)) {
            return -1;
        }
        for (int attempt = 0; attempt < 8 && random.nextInt(4) != 0; attempt++) {
            long slot = table.offset() + 8L * random.nextInt(slots);
            if (getLong(slot) != 0) {
                return slot;
            }
        }
        long slot = table.offset() + 8L * random.nextInt(slots);
        return fits(slot, 8) ? slot : -1;
    }
}
