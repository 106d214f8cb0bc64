package org.fleeced.block;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.fleeced.qcow2.L2Entry;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;
import org.fleeced.qcow2.Qcow2Node;
import org.fleeced.qcow2.Qcow2OpenOptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link DataBytes} on a real qcow2 image: clusters with data count, holes and zero clusters do not. */
class DataBytesTest {
    private static final int CLUSTER = 64 << 10;

    @TempDir
    Path dir;
    Path image;

    @BeforeEach
    void createImage() throws Exception {
        image = dir.resolve("disk.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(16L << 20));
    }

    @Test
    void aNewImageHoldsNoData() throws Exception {
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            assertEquals(0, DataBytes.of(node));
        }
    }

    @Test
    void writtenClustersCountAndZeroedOnesDoNot() throws Exception {
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            node.write(0, ByteBuffer.wrap(new byte[] {1}), WriteFlag.NONE);
            node.write(5L * CLUSTER + 100, ByteBuffer.wrap(new byte[] {2, 3}), WriteFlag.NONE);
            node.write(9L * CLUSTER, ByteBuffer.allocate(CLUSTER).put(0, (byte) 4), WriteFlag.NONE);
            node.writeZeroes(9L * CLUSTER, CLUSTER, WriteFlag.NONE);
            assertEquals(2L * CLUSTER, DataBytes.of(node), "clusters 0 and 5 hold data; cluster 9 was zeroed");
        }
    }

    /** A damaged image is not a disk with nothing in it: the error reaches the caller. */
    @Test
    void aDamagedImageAnswersEioInsteadOfACount() throws Exception {
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readWrite())) {
            node.write(0, ByteBuffer.wrap(new byte[] {1}), WriteFlag.NONE);
        }
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer l1Offset = ByteBuffer.allocate(8);
            ch.read(l1Offset, 40);
            ch.write(ByteBuffer.allocate(8).putLong(0, (1L << 40) | L2Entry.COPIED), l1Offset.getLong(0));
        }
        try (Qcow2Node node = Qcow2Node.open(image, Qcow2OpenOptions.readOnlyDefaults())) {
            BlockIOException e = assertThrows(BlockIOException.class, () -> DataBytes.of(node));
            assertEquals(Errno.EIO, e.errno());
        }
    }
}
