package org.fleeced.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * Reads a {@link CheckpointJournal} an earlier run left (the recovery side of the journal).
 *
 * <p>It trusts a journal only when its header carries the identity and size of the image it is
 * read for, and it reads records while each is whole: a length in bounds, a CRC32C that matches,
 * the next sequence number, a payload that decodes. The first record that fails any of these
 * ends the journal: it is the tail a crash tore, or the zeroes after the last record. The first
 * record must be a BASE.
 */
final class JournalReader {
    /** One entry and its sequence number. */
    record Sequenced(long seq, JournalEntry entry) {
    }

    /**
     * What a journal holds.
     *
     * @param baseSeq sequence number of the BASE record; the image holds every entry up to it
     * @param pending the job checkpoints pending at the BASE
     * @param entries every whole entry after the BASE, in order
     * @param end     the offset after the last whole record
     */
    record Contents(long baseSeq, List<String> pending, List<Sequenced> entries, long end) {
        long lastSeq() {
            return entries.isEmpty() ? baseSeq : entries.getLast().seq();
        }
    }

    private JournalReader() {
    }

    /** The journal at {@code path}, or null when there is none, or it belongs to another image or is damaged. */
    static Contents read(Path path, long identity, long imageSize) throws BlockIOException {
        if (!Files.exists(path)) {
            return null;
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < CheckpointJournal.HEADER_BYTES || size > CheckpointJournal.MAX_BYTES) {
                return null;
            }
            ByteBuffer all = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
            while (all.hasRemaining() && ch.read(all) >= 0) {
                // read the whole file: it is small
            }
            all.flip();
            if (all.remaining() < CheckpointJournal.HEADER_BYTES || all.getLong(0) != CheckpointJournal.MAGIC
                    || all.getInt(8) != CheckpointJournal.VERSION || all.getLong(16) != identity
                    || all.getLong(24) != imageSize) {
                return null;
            }
            return records(all);
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot read the checkpoint journal " + path + ": " + e, e);
        }
    }

    private static Contents records(ByteBuffer all) {
        long pos = CheckpointJournal.HEADER_BYTES;
        Long baseSeq = null;
        List<String> pending = List.of();
        List<Sequenced> entries = new ArrayList<>();
        long expected = -1;
        while (true) {
            Sequenced next = record(all, pos);
            if (next == null || (baseSeq != null && next.seq() != expected)
                    || (baseSeq == null) != (next.entry().kind() == JournalEntry.Kind.BASE)) {
                break;
            }
            if (baseSeq == null) {
                baseSeq = next.seq();
                pending = next.entry().names();
            } else {
                entries.add(next);
            }
            expected = next.seq() + 1;
            pos += CheckpointJournal.RECORD_HEAD_BYTES + all.getInt((int) pos);
        }
        return baseSeq == null ? null : new Contents(baseSeq, pending, entries, pos);
    }

    /** The record at {@code pos}, or null when none is whole there. */
    private static Sequenced record(ByteBuffer all, long pos) {
        if (pos + CheckpointJournal.RECORD_HEAD_BYTES > all.limit()) {
            return null;
        }
        int p = (int) pos;
        int length = all.getInt(p);
        if (length <= 0 || length > CheckpointJournal.MAX_PAYLOAD_BYTES
                || p + CheckpointJournal.RECORD_HEAD_BYTES + (long) length > all.limit()) {
            return null;
        }
        int crc = all.getInt(p + 4);
        ByteBuffer covered = all.slice(p + 8, 8 + length);
        if (crc != checksum(covered.duplicate())) {
            return null;
        }
        long seq = all.getLong(p + 8);
        JournalEntry entry = JournalEntry.decode(all.slice(p + CheckpointJournal.RECORD_HEAD_BYTES, length)
                .order(ByteOrder.LITTLE_ENDIAN));
        return entry == null ? null : new Sequenced(seq, entry);
    }

    static int checksum(ByteBuffer covered) {
        CRC32C crc = new CRC32C();
        crc.update(covered);
        return (int) crc.getValue();
    }
}
