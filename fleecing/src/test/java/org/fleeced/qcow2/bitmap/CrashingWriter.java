package org.fleeced.qcow2.bitmap;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;
import org.fleeced.block.BlockNode;
import org.fleeced.block.WriteFlag;

/**
 * The process {@link CrashRecoveryTest} kills: opens an image with its bitmaps, optionally adds a
 * bitmap at a given write, and changes the disk at random forever, reporting on stdout each
 * change after it was acknowledged ({@code ACK offset length}) and each bitmap after it was
 * added ({@code ADD name}). Flushes and checkpoints now and then, so kills land inside them too.
 *
 * <p>Arguments: image, seed, write index at which to add a bitmap (-1: none), its name.
 */
public final class CrashingWriter {
    private CrashingWriter() {
    }

    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        Random random = new Random(Long.parseLong(args[1]));
        int addAt = Integer.parseInt(args[2]);
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.US_ASCII);
        BitmapDisk disk = BitmapDisk.open(image, false,
                BitmapPersistenceOptions.defaults().withRegionBits(20).withCheckpointAfterRegions(3));
        PersistentBitmaps bitmaps = disk.bitmaps();
        out.println("OPEN");
        BlockNode node = disk.node();
        long size = node.size();
        ByteBuffer data = ByteBuffer.allocate(256 << 10);
        for (int i = 0; ; i++) {
            if (i == addAt) {
                bitmaps.add(args[3], 1 << 16, true, true);
                out.println("ADD " + args[3]);
            }
            long offset = random.nextLong(size) & ~511L;
            int length = (int) Math.min(size - offset, 512 * (1 + random.nextInt(400)));
            int op = random.nextInt(10);
            if (op < 7) {
                random.nextBytes(data.array());
                node.write(offset, data.clear().limit(length), WriteFlag.NONE);
            } else if (op < 9) {
                node.writeZeroes(offset, length, WriteFlag.of(WriteFlag.MAY_UNMAP));
            } else {
                node.discard(offset, length);
            }
            out.println("ACK " + offset + " " + length);
            if (i % 17 == 16) {
                node.flush();
            }
            if (i % 29 == 28) {
                bitmaps.checkpointToImage();
            }
        }
    }
}
