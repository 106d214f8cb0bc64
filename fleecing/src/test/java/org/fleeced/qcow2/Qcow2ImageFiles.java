package org.fleeced.qcow2;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;

/** Test helpers that read whole images and patch header bytes. */
final class Qcow2ImageFiles {
    private Qcow2ImageFiles() {
    }

    /** Reads the whole node in 1 MiB requests. */
    static byte[] readAll(BlockNode node) throws BlockIOException {
        byte[] all = new byte[(int) node.size()];
        for (long off = 0; off < all.length; off += 1 << 20) {
            int n = (int) Math.min(1 << 20, all.length - off);
            node.read(off, ByteBuffer.wrap(all, (int) off, n));
        }
        return all;
    }

    static byte[] readFile(Path path, long offset, int length) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(length);
            while (b.hasRemaining() && ch.read(b, offset + b.position()) >= 0) {
                // read until full or end of file; the rest stays zero
            }
            return b.array();
        }
    }

    static void patch(Path path, long offset, ByteBuffer bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE)) {
            ch.write(bytes, offset);
        }
    }

    static void patchInt(Path path, long offset, int value) throws IOException {
        patch(path, offset, ByteBuffer.allocate(4).putInt(0, value));
    }

    static void patchLong(Path path, long offset, long value) throws IOException {
        patch(path, offset, ByteBuffer.allocate(8).putLong(0, value));
    }

    static long readLong(Path path, long offset) throws IOException {
        return ByteBuffer.wrap(readFile(path, offset, 8)).getLong();
    }

    static byte[] pattern(int length, long seed) {
        byte[] b = new byte[length];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }
}
