package org.fleeced.qcow2;

import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import org.fleeced.block.WriteFlag;

/**
 * The process {@link Qcow2CrashTest} kills: runs seeded random writes, zero writes and discards
 * on an existing image, forever. Before each operation it prints {@code B seq kind offset length}
 * (kind W, Z or D), so the test knows every range that may have changed; after each flush that
 * returned it prints {@code F seq}: every write up to seq is durable. Write seq's data is
 * {@code Qcow2ImageFiles.pattern(length, seq)}.
 */
public final class Qcow2CrashWriter {
    private Qcow2CrashWriter() {
    }

    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        long firstSeq = Long.parseLong(args[1]);
        Random random = new Random(firstSeq);
        PrintStream out = new PrintStream(System.out, true);
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            long size = node.size();
            for (long seq = firstSeq; ; seq++) {
                int kind = random.nextInt(10);
                int length = 1 + random.nextInt(random.nextBoolean() ? 5000 : 200_000);
                long offset = random.nextLong(size - length);
                if (kind == 0) {
                    out.println("B " + seq + " D " + offset + " " + length);
                    node.discard(offset, length);
                } else if (kind == 1) {
                    out.println("B " + seq + " Z " + offset + " " + length);
                    node.writeZeroes(offset, length, random.nextBoolean() ? Set.of(WriteFlag.MAY_UNMAP) : WriteFlag.NONE);
                } else {
                    out.println("B " + seq + " W " + offset + " " + length);
                    node.write(offset, ByteBuffer.wrap(Qcow2ImageFiles.pattern(length, seq)), WriteFlag.NONE);
                }
                if (random.nextInt(6) == 0) {
                    node.flush();
                    out.println("F " + seq);
                }
            }
        }
    }
}
