package org.fleeced.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;
import org.fleeced.tracking.DurableRename;

/**
 * The write-ahead journal of a disk's checkpoint transitions, {@code IMAGE.fleeced-journal}
 * beside the image: every transition is one small record made durable (one fdatasync of a few
 * dozen bytes) before the API answers, so the image's bitmaps can be stored later, off the
 * guest's path. Recovery = the checkpoints the image holds + the entries after the journal's
 * BASE, replayed + the intent log's marks ({@link JournalReplay}).
 *
 * <h2>File</h2>
 * Little-endian. Header, 64 bytes: magic {@code FLJOURNL}, u32 version 1, u32 0, u64 identity
 * (the image's, as for the intent log: a journal of another image is never replayed), u64 image
 * size. Then records: u32 payload length, u32 CRC32C of (seq, payload), u64 seq, payload
 * ({@link JournalEntry}). The first record is a BASE; sequence numbers follow one by one. The
 * file is written full of zeroes ahead of the records, so an append overwrites allocated blocks
 * and its fdatasync commits no file system metadata (on ext4 that commit would also wait for the
 * image's data). A torn last record fails its checksum and is ignored ({@link JournalReader}).
 *
 * <h2>Compaction</h2>
 * After a background store put the checkpoints into the image, {@link #compactTo} rewrites the
 * journal as a BASE (the job checkpoints still pending) plus the entries the store may have
 * missed: those after the sequence number read before the store copied the bitmaps. The rewrite
 * goes to a temp file renamed over the journal, so a crash leaves the old journal or the new one.
 * The intent log's epoch is retired only after this, so its marks always cover every write since
 * the BASE.
 *
 * <p>Thread safety: every method takes {@code lock}; callers may hold their own locks (the
 * checkpoint set's, the bitmap store's) but the journal takes no other lock.
 */
public final class CheckpointJournal implements AutoCloseable {
    static final long MAGIC = 0x4c4e524f554a4c46L; // "FLJOURNL" read little-endian
    static final int VERSION = 1;
    static final int HEADER_BYTES = 64;
    static final int RECORD_HEAD_BYTES = 16;
    static final int MAX_PAYLOAD_BYTES = 1 << 20;
    static final long MAX_BYTES = 1L << 30;
    private static final long INITIAL_CAPACITY = 256 << 10;

    private final Path path;
    private final long identity;
    private final long imageSize;
    private final ReentrantLock lock = new ReentrantLock();
    /** Guarded by lock: the open file, its size (all zeroes after {@code end}) and the append offset. */
    private FileChannel channel;
    private long capacity;
    private long end;
    /** Guarded by lock: the BASE and the entries after it, as in the file. */
    private long baseSeq;
    private List<String> basePending;
    private final List<JournalReader.Sequenced> entries = new ArrayList<>();
    /** Guarded by lock: set by close or delete. */
    private boolean closed;

    private CheckpointJournal(Path path, long identity, long imageSize) {
        this.path = path;
        this.identity = identity;
        this.imageSize = imageSize;
    }

    /** The journal's name for an image: {@code IMAGE.fleeced-journal} in the image's directory. */
    public static Path sidecarFor(Path image) {
        return image.resolveSibling(image.getFileName() + ".fleeced-journal");
    }

    /**
     * Writes a journal (replacing any) that starts from {@code from}: its BASE and entries, the
     * torn tail left out; an empty BASE when {@code from} is null. Durable when this returns.
     */
    static CheckpointJournal create(Path path, long identity, long imageSize, JournalReader.Contents from)
            throws BlockIOException {
        CheckpointJournal journal = new CheckpointJournal(path, identity, imageSize);
        journal.lock.lock();
        try {
            journal.baseSeq = from == null ? 0 : from.baseSeq();
            journal.basePending = from == null ? List.of() : from.pending();
            if (from != null) {
                journal.entries.addAll(from.entries());
            }
            journal.rewriteLocked(INITIAL_CAPACITY);
            return journal;
        } finally {
            journal.lock.unlock();
        }
    }

    /** Appends {@code entry} durably; returns its sequence number. */
    long append(JournalEntry entry) throws BlockIOException {
        byte[] payload = entry.encode();
        lock.lock();
        try {
            checkOpenLocked();
            long seq = lastSeqLocked() + 1;
            ByteBuffer record = encode(seq, payload);
            if (end + record.remaining() > capacity) {
                rewriteLocked(Math.max(2 * capacity, end + record.remaining() + INITIAL_CAPACITY));
            }
            long start = end;
            try {
                end = writeFully(channel, record, start);
                channel.force(false);
            } catch (IOException e) {
                // the entry did not happen: the next append takes its place (and its sequence
                // number), and its bytes are zeroed so that no later writeback makes it look
                // appended; whether the failed sync put it on the disk meanwhile is unknown
                end = start;
                try {
                    writeFully(channel, ByteBuffer.allocate(record.capacity()), start);
                } catch (IOException zeroing) {
                    e.addSuppressed(zeroing);
                }
                throw new BlockIOException(Errno.EIO, "cannot record " + entry.kind() + " " + entry.name()
                        + " in the checkpoint journal " + path + ": " + e, e);
            }
            entries.add(new JournalReader.Sequenced(seq, entry));
            return seq;
        } finally {
            lock.unlock();
        }
    }

    /** The sequence number of the newest entry (of the BASE when there is none). */
    long lastSeq() {
        lock.lock();
        try {
            return lastSeqLocked();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Folds the entries up to {@code seq} into the BASE: the image now holds everything they did.
     * Nothing happens when no entry is that old.
     */
    void compactTo(long seq) throws BlockIOException {
        lock.lock();
        try {
            if (closed || entries.isEmpty() || entries.getFirst().seq() > seq) {
                return;
            }
            Set<String> pending = new LinkedHashSet<>(basePending);
            while (!entries.isEmpty() && entries.getFirst().seq() <= seq) {
                JournalReader.Sequenced s = entries.removeFirst();
                switch (s.entry().kind()) {
                    case BEGIN -> pending.add(s.entry().name());
                    case COMMIT, FAIL, REMOVE -> pending.remove(s.entry().name());
                    default -> { }
                }
                baseSeq = s.seq();
            }
            basePending = List.copyOf(pending);
            rewriteLocked(INITIAL_CAPACITY);
        } finally {
            lock.unlock();
        }
    }

    public Path path() {
        return path;
    }

    @Override
    public void close() throws BlockIOException {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            channel.close();
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot close the checkpoint journal " + path + ": " + e, e);
        } finally {
            lock.unlock();
        }
    }

    /** Deletes the journal: the image was closed cleanly and holds every checkpoint. */
    public void delete() throws BlockIOException {
        close();
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot delete the checkpoint journal " + path + ": " + e, e);
        }
    }

    private long lastSeqLocked() {
        return entries.isEmpty() ? baseSeq : entries.getLast().seq();
    }

    private void checkOpenLocked() throws BlockIOException {
        if (closed) {
            throw new BlockIOException(Errno.ESHUTDOWN, "the checkpoint journal " + path + " is closed");
        }
    }

    /** Writes header, BASE and entries to a temp file of {@code size} bytes, then renames it over the journal. */
    private void rewriteLocked(long size) throws BlockIOException {
        long[] written = new long[2];
        try {
            FileChannel ch = DurableRename.replace(path, file -> {
                ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                header.putLong(MAGIC).putInt(VERSION).putInt(0).putLong(identity).putLong(imageSize).clear();
                long pos = writeFully(file, header, 0);
                pos = writeFully(file, encode(baseSeq, JournalEntry.base(basePending).encode()), pos);
                for (JournalReader.Sequenced s : entries) {
                    pos = writeFully(file, encode(s.seq(), s.entry().encode()), pos);
                }
                long filled = Math.max(size, pos + INITIAL_CAPACITY / 4);
                ByteBuffer zeroes = ByteBuffer.allocate(64 << 10);
                for (long at = pos; at < filled; ) {
                    zeroes.clear().limit((int) Math.min(zeroes.capacity(), filled - at));
                    at = writeFully(file, zeroes, at);
                }
                written[0] = pos;
                written[1] = filled;
            });
            if (channel != null) {
                channel.close();
            }
            channel = ch;
            end = written[0];
            capacity = written[1];
        } catch (IOException e) {
            throw new BlockIOException(Errno.EIO, "cannot write the checkpoint journal " + path + ": " + e, e);
        }
    }

    private static ByteBuffer encode(long seq, byte[] payload) {
        if (payload.length > MAX_PAYLOAD_BYTES) {
            throw new IllegalArgumentException("a journal entry of " + payload.length + " bytes");
        }
        ByteBuffer r = ByteBuffer.allocate(RECORD_HEAD_BYTES + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        r.putInt(payload.length).putInt(0).putLong(seq).put(payload).flip();
        r.putInt(4, JournalReader.checksum(r.slice(8, 8 + payload.length)));
        return r;
    }

    private static long writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            pos += ch.write(buf, pos);
        }
        return pos;
    }
}
