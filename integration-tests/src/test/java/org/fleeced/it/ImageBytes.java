package org.fleeced.it;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Raw image files as byte arrays for the scenarios: copy an export with {@code nbdcopy}, compare
 * two images byte for byte (naming the first differing offset), and restore an incremental backup
 * (its dirty extents, as {@code nbd_client.py dirty:} saved them) onto a full one.
 */
final class ImageBytes {
    private ImageBytes() {
    }

    /** nbdcopy of a whole export into a raw file. */
    static Path copy(String uri, Path file) throws IOException, InterruptedException {
        Files.deleteIfExists(file);
        Tool.run("nbdcopy", uri, file.toString()).ok();
        return file;
    }

    static void assertSame(Path expected, Path actual, String what) throws IOException {
        long at = Files.mismatch(expected, actual);
        if (at != -1) {
            throw new AssertionError(what + ": " + actual.getFileName() + " differs from " + expected.getFileName()
                    + " first at byte " + at + " (sizes " + Files.size(expected) + ", " + Files.size(actual) + ")");
        }
    }

    /** Writes the listed extents ("offset length" lines in {@code listing}) of {@code increment} into {@code restore}. */
    static long applyIncrement(Path restore, Path increment, Path listing) throws IOException {
        long applied = 0;
        try (FileChannel in = FileChannel.open(increment);
                FileChannel out = FileChannel.open(restore, StandardOpenOption.WRITE)) {
            for (String line : Files.readAllLines(listing)) {
                String[] f = line.trim().split(" ");
                long offset = Long.parseLong(f[0]);
                long length = Long.parseLong(f[1]);
                ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(length));
                while (buf.hasRemaining() && in.read(buf, offset + buf.position()) >= 0) {
                    continue;
                }
                buf.flip();
                while (buf.hasRemaining()) {
                    out.write(buf, offset + buf.position());
                }
                applied += length;
            }
        }
        return applied;
    }

    /** The extents of a listing file, as {offset, length} pairs. */
    static List<long[]> extents(Path listing) throws IOException {
        return Files.readAllLines(listing).stream().filter(l -> !l.isBlank())
                .map(l -> l.trim().split(" ")).map(f -> new long[] {Long.parseLong(f[0]), Long.parseLong(f[1])})
                .toList();
    }
}
