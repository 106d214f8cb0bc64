package org.fleeced.checkpoint;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.zip.CRC32C;
import org.fleeced.bitmaps.BitmapView;
import org.fleeced.bitmaps.ByteRange;
import org.fleeced.bitmaps.DirtyBitmap;
import org.fleeced.tracking.DurableRename;

/**
 * The bitmap sidecar of a raw image, {@code IMAGE.fleeced-bitmaps}: the checkpoints a raw image
 * cannot hold itself, rewritten whole by every store (temp file, fsync, rename, directory sync:
 * {@link DurableRename}), so a crash leaves the old file or the new one, never a mix.
 *
 * <h2>Layout</h2>
 * Big-endian. Header, 36 bytes: magic {@code FLBITMAP}, u32 version 1, u32 flags (bit 0: in use,
 * i.e. open read-write and not closed cleanly, as qcow2's IN_USE), u64 identity (shared with the
 * intent log and the checkpoint journal, which vouch for the file only when theirs matches),
 * u64 image size, u32 checkpoint count. Then per checkpoint, oldest first: u16 name length,
 * UTF-8 name, u8 log2 granularity (9..31), u8 flags (bit 0 recording, bit 1 inconsistent: no
 * bits follow that anyone may trust), u32 run count, runs of (u64 offset, u64 length) in
 * ascending order, inside the image. Last, u32 CRC32C of every byte before it.
 *
 * <h2>Distrust</h2>
 * Nothing is trusted that the file cannot vouch for: a wrong checksum (a torn or truncated file,
 * a flipped bit), an unknown magic or version, an image size other than the image's (the image
 * was resized while fleeced was stopped), a count or length that runs past the end, a run outside
 * the image or out of order, a duplicate name: each is {@link Damaged}, with what was wrong. Every
 * count is checked against the bytes left before anything is allocated for it.
 */
final class SidecarBitmapFile {
    static final long MAGIC = 0x464c4249544d4150L; // "FLBITMAP"
    static final int VERSION = 1;
    static final int HEADER_BYTES = 36;
    private static final int CRC_BYTES = 4;
    private static final int RUN_BYTES = 16;
    /** The biggest file read: 64 Mi runs; a sidecar beyond it is not one fleeced wrote for a sane disk. */
    static final long MAX_BYTES = 1L << 30;

    /** One checkpoint as the file holds it; {@code bits} empty for an inconsistent one. */
    record Entry(String name, boolean recording, boolean inconsistent, DirtyBitmap bits) {
    }

    /** What the file holds. */
    record Contents(boolean inUse, long identity, List<Entry> entries) {
    }

    /** The file exists but cannot be trusted; the message says why. */
    static final class Damaged extends IOException {
        Damaged(Path file, String why) {
            super("the bitmap sidecar " + file + " is damaged: " + why);
        }
    }

    /** One checkpoint to write: its frozen bits, null for an inconsistent one. */
    record Item(String name, long granularity, boolean recording, BitmapView bits) {
    }

    private SidecarBitmapFile() {
    }

    /** Writes the file durably (see the class note). */
    static void write(Path path, boolean inUse, long identity, long imageSize, List<Item> items) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.writeLong(MAGIC);
        out.writeInt(VERSION);
        out.writeInt(inUse ? 1 : 0);
        out.writeLong(identity);
        out.writeLong(imageSize);
        out.writeInt(items.size());
        for (Item item : items) {
            byte[] name = item.name().getBytes(StandardCharsets.UTF_8);
            out.writeShort(name.length);
            out.write(name);
            out.writeByte(Long.numberOfTrailingZeros(item.granularity()));
            out.writeByte((item.recording() ? 1 : 0) | (item.bits() == null ? 2 : 0));
            List<ByteRange> runs = item.bits() == null ? List.of()
                    : item.bits().dirtyExtents(0, imageSize, Integer.MAX_VALUE);
            out.writeInt(runs.size());
            for (ByteRange r : runs) {
                out.writeLong(r.offset());
                out.writeLong(r.length());
            }
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes.toByteArray());
        out.writeInt((int) crc.getValue());
        ByteBuffer all = ByteBuffer.wrap(bytes.toByteArray());
        try (FileChannel written = DurableRename.replace(path, file -> {
            while (all.hasRemaining()) {
                file.write(all);
            }
        })) {
            // written, synced and renamed: the channel only needs closing
        }
    }

    /**
     * The file's contents, or null when there is none.
     *
     * @throws Damaged the file exists and cannot be trusted (see the class note)
     */
    static Contents read(Path path, long imageSize) throws IOException {
        byte[] data;
        try {
            if (Files.size(path) > MAX_BYTES) {
                throw new Damaged(path, Files.size(path) + " bytes, more than any sidecar fleeced writes");
            }
            data = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            return null;
        }
        if (data.length < HEADER_BYTES + CRC_BYTES) {
            throw new Damaged(path, "truncated to " + data.length + " bytes");
        }
        ByteBuffer b = ByteBuffer.wrap(data, 0, data.length - CRC_BYTES).slice();
        CRC32C crc = new CRC32C();
        crc.update(data, 0, data.length - CRC_BYTES);
        if ((int) crc.getValue() != ByteBuffer.wrap(data).getInt(data.length - CRC_BYTES)) {
            throw new Damaged(path, "checksum mismatch (torn, truncated or changed by hand)");
        }
        if (b.getLong() != MAGIC || b.getInt() != VERSION) {
            throw new Damaged(path, "not a version " + VERSION + " fleeced bitmap sidecar");
        }
        try {
            boolean inUse = (b.getInt() & 1) != 0;
            long identity = b.getLong();
            long size = b.getLong();
            if (size != imageSize) {
                throw new Damaged(path, "written for an image of " + size + " bytes, the image has " + imageSize
                        + " (resized while fleeced was stopped?)");
            }
            int count = b.getInt();
            if (count < 0 || count > b.remaining() / 8) {
                throw new Damaged(path, "claims " + Integer.toUnsignedString(count) + " checkpoints");
            }
            List<Entry> entries = new ArrayList<>();
            Set<String> names = new LinkedHashSet<>();
            for (int i = 0; i < count; i++) {
                Entry e = readEntry(path, b, imageSize);
                if (!names.add(e.name())) {
                    throw new Damaged(path, "checkpoint " + e.name() + " twice");
                }
                entries.add(e);
            }
            if (b.hasRemaining()) {
                throw new Damaged(path, b.remaining() + " bytes after the last checkpoint");
            }
            return new Contents(inUse, identity, entries);
        } catch (BufferUnderflowException e) {
            throw new Damaged(path, "a length runs past the end of the file");
        }
    }

    private static Entry readEntry(Path path, ByteBuffer b, long imageSize) throws Damaged {
        byte[] nameBytes = new byte[Short.toUnsignedInt(b.getShort())];
        b.get(nameBytes);
        String name;
        try {
            name = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(nameBytes)).toString();
        } catch (CharacterCodingException e) {
            throw new Damaged(path, "a checkpoint name is not UTF-8");
        }
        int bits = b.get();
        int flags = b.get();
        if (bits < 9 || bits > 31) {
            throw new Damaged(path, "checkpoint " + name + " has granularity 2^" + bits);
        }
        long runs = Integer.toUnsignedLong(b.getInt());
        if (runs > b.remaining() / RUN_BYTES) {
            throw new Damaged(path, "checkpoint " + name + " claims " + runs + " runs");
        }
        DirtyBitmap bitmap = new DirtyBitmap(imageSize, 1L << bits);
        long end = 0;
        for (long r = 0; r < runs; r++) {
            long offset = b.getLong();
            long length = b.getLong();
            if (offset < end || length <= 0 || offset > imageSize - length) {
                throw new Damaged(path, "checkpoint " + name + " has a run [" + offset + ", +" + length
                        + ") outside the image or out of order");
            }
            bitmap.set(offset, length);
            end = offset + length;
        }
        return new Entry(name, (flags & 1) != 0, (flags & 2) != 0, bitmap);
    }
}
