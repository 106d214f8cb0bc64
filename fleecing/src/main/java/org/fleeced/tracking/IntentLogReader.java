package org.fleeced.tracking;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * Reads an {@link IntentLog} sidecar an earlier run left (the recovery side of the log): the
 * regions either map marks, when the header says the sidecar belongs to this image.
 */
public final class IntentLogReader {
    private static final int HEADER_BYTES = 32;

    private IntentLogReader() {
    }

    /**
     * The regions either map of the sidecar at {@code path} marks, or null when there is no
     * sidecar or it belongs to another image (wrong identity or size) or is damaged.
     */
    public static RecoveredIntents recover(Path path, long imageSize, long identity) throws BlockIOException {
        if (!Files.exists(path)) {
            return null;
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            if (ch.read(header, 0) < HEADER_BYTES) {
                return null;
            }
            header.flip();
            if (header.getLong() != IntentLog.MAGIC || header.getInt() != IntentLog.VERSION) {
                return null;
            }
            int regionBits = header.getInt();
            long size = header.getLong();
            long id = header.getLong();
            if (regionBits < IntentLog.MIN_REGION_BITS || regionBits > IntentLog.MAX_REGION_BITS
                    || size != imageSize || id != identity) {
                return null;
            }
            long mapBytes = IntentLog.mapBytes(imageSize, regionBits);
            if (ch.size() < IntentLog.PAGE + 2 * mapBytes || mapBytes > Integer.MAX_VALUE) {
                return null;
            }
            BitSet marked = new BitSet();
            for (int map = 0; map < 2; map++) {
                ByteBuffer bytes = ByteBuffer.allocate((int) mapBytes);
                readFully(ch, bytes, IntentLog.PAGE + map * mapBytes);
                marked.or(BitSet.valueOf(bytes.flip()));
            }
            return new RecoveredIntents(regionBits, imageSize, marked);
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot read the intent log " + path + ": " + e, e);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("short intent log at " + pos);
            }
            pos += n;
        }
    }
}
