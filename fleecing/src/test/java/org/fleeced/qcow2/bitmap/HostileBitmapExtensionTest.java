package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Damaged and hostile bitmaps extensions: every one is a clear EUCLEAN (an invalid image) at open, read-only and
 * read-write, never a crash, a hang or an out-of-memory. The base image comes from QEMU: two
 * bitmaps, b0 with a data cluster (QEMU recorded scattered writes), b1 empty.
 */
class HostileBitmapExtensionTest {
    @TempDir
    static Path shared;
    private static Path base;

    /** One damage: where, relative to what, and what to write there. */
    private enum Anchor { EXTENSION, ENTRY0, ENTRY1, TABLE0 }

    @BeforeAll
    static void createBase() throws Exception {
        ExternalTools.assume("qemu-img", "qemu-io");
        base = shared.resolve("base.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", base.toString(), "64M");
        ExternalTools.ok("qemu-img", "bitmap", "--add", base.toString(), "b0");
        ExternalTools.ok("qemu-io", "-f", "qcow2", "-c", "write 0 4k", "-c", "write 1M 4k", "-c", "write 9M 64k", base.toString());
        ExternalTools.ok("qemu-img", "bitmap", "--add", base.toString(), "b1");
    }

    static Stream<Arguments> damage() {
        return Stream.of(
                Arguments.of("nb_bitmaps 70000", Anchor.EXTENSION, 0, ByteBuffer.allocate(4).putInt(0, 70000)),
                Arguments.of("nb_bitmaps 0", Anchor.EXTENSION, 0, ByteBuffer.allocate(4).putInt(0, 0)),
                Arguments.of("reserved field", Anchor.EXTENSION, 4, ByteBuffer.allocate(4).putInt(0, 1)),
                Arguments.of("directory size 2^40", Anchor.EXTENSION, 8, ByteBuffer.allocate(8).putLong(0, 1L << 40)),
                Arguments.of("directory size 8", Anchor.EXTENSION, 8, ByteBuffer.allocate(8).putLong(0, 8)),
                Arguments.of("directory size negative", Anchor.EXTENSION, 8, ByteBuffer.allocate(8).putLong(0, -64)),
                Arguments.of("directory offset unaligned", Anchor.EXTENSION, 16, null),
                Arguments.of("directory offset past the end", Anchor.EXTENSION, 16, ByteBuffer.allocate(8).putLong(0, 1L << 40)),
                Arguments.of("directory offset 0", Anchor.EXTENSION, 16, ByteBuffer.allocate(8).putLong(0, 0)),
                Arguments.of("table offset past the end", Anchor.ENTRY0, 0, ByteBuffer.allocate(8).putLong(0, 1L << 40)),
                Arguments.of("table offset unaligned", Anchor.ENTRY0, 0, ByteBuffer.allocate(8).putLong(0, 4096 + 8)),
                Arguments.of("table size huge", Anchor.ENTRY0, 8, ByteBuffer.allocate(4).putInt(0, 0x7fffffff)),
                Arguments.of("table size wrong", Anchor.ENTRY0, 8, ByteBuffer.allocate(4).putInt(0, 2)),
                Arguments.of("reserved flag", Anchor.ENTRY0, 12, ByteBuffer.allocate(4).putInt(0, 1 << 5)),
                Arguments.of("unknown type", Anchor.ENTRY0, 16, ByteBuffer.allocate(1).put(0, (byte) 7)),
                Arguments.of("granularity_bits 40", Anchor.ENTRY0, 17, ByteBuffer.allocate(1).put(0, (byte) 40)),
                Arguments.of("granularity_bits 8", Anchor.ENTRY0, 17, ByteBuffer.allocate(1).put(0, (byte) 8)),
                Arguments.of("name size 0", Anchor.ENTRY0, 18, ByteBuffer.allocate(2).putShort(0, (short) 0)),
                Arguments.of("name size past the directory", Anchor.ENTRY1, 18, ByteBuffer.allocate(2).putShort(0, (short) 1000)),
                Arguments.of("extra data size huge", Anchor.ENTRY0, 20, ByteBuffer.allocate(4).putInt(0, 0x7fffffff)),
                Arguments.of("duplicate names", Anchor.ENTRY1, 25, ByteBuffer.allocate(1).put(0, (byte) '0')),
                Arguments.of("table entry reserved bits", Anchor.TABLE0, 0, ByteBuffer.allocate(1).put(0, (byte) 0x10)),
                Arguments.of("table entry unaligned", Anchor.TABLE0, 6, ByteBuffer.allocate(1).put(0, (byte) 0x02)),
                Arguments.of("table entry past the end", Anchor.TABLE0, 1, ByteBuffer.allocate(1).put(0, (byte) 0x7f)),
                Arguments.of("table entry offset with all-ones bit", Anchor.TABLE0, 7, ByteBuffer.allocate(1).put(0, (byte) 0x01)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("damage")
    void isRefusedAsInvalid(String what, Anchor anchor, int at, ByteBuffer bytes, @TempDir Path dir) throws Exception {
        Path image = dir.resolve("hostile.qcow2");
        Files.copy(base, image);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long position = locate(ch, anchor) + at;
            ByteBuffer patch = bytes != null ? bytes : ByteBuffer.allocate(8).putLong(0, readLong(ch, position) + 8);
            ch.write(patch.clear(), position);
        }
        for (boolean readOnly : new boolean[] {true, false}) {
            BlockIOException e = assertThrows(BlockIOException.class,
                    () -> BitmapDisk.open(image, readOnly).close(), what);
            assertEquals(Errno.EUCLEAN, e.errno(), what + ": " + e);
            assertTrue(e.getMessage().contains("bitmap"), what + ": " + e.getMessage());
        }
    }

    private static long locate(FileChannel ch, Anchor anchor) throws IOException {
        long ext = extensionData(ch);
        long dir = readLong(ch, ext + 16);
        return switch (anchor) {
            case EXTENSION -> ext;
            case ENTRY0 -> dir;
            case ENTRY1 -> dir + 32;
            case TABLE0 -> readLong(ch, dir);
        };
    }

    /** Position of the bitmaps extension's data in the header. */
    private static long extensionData(FileChannel ch) throws IOException {
        long pos = readInt(ch, 100);
        while (true) {
            int type = readInt(ch, pos);
            int length = readInt(ch, pos + 4);
            if (type == 0x23852875) {
                return pos + 8;
            }
            if (type == 0) {
                throw new IllegalStateException("no bitmaps extension in the base image");
            }
            pos += 8 + ((length + 7) & ~7);
        }
    }

    private static long readLong(FileChannel ch, long pos) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8);
        ch.read(b, pos);
        return b.getLong(0);
    }

    private static int readInt(FileChannel ch, long pos) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4);
        ch.read(b, pos);
        return b.getInt(0);
    }
}
