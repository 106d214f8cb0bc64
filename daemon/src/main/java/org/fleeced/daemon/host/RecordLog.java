package org.fleeced.daemon.host;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * An append-only file of small text records that a crash cannot corrupt: one record per line,
 * {@code CRC32C-HEX SPACE TEXT NEWLINE}, each append made durable (fdatasync) before it returns.
 *
 * <p>Crash safety: a crash in the middle of an append leaves a torn last line (no newline, or a
 * checksum that does not match); {@link #read} skips any line that does not check out, so the
 * file reads as the records whose appends completed. {@link #rewrite} replaces the whole file
 * (write to a temp file, fdatasync, rename, fsync the directory), so it leaves the old records or
 * the new ones, never a mix; it also drops a torn tail, which an append must never follow (the
 * new record would be glued to the torn one and both lost), so a writer rewrites once after
 * reading, before it appends.
 *
 * <p>Not thread-safe: the owner serializes calls.
 */
final class RecordLog {
    private final Path file;

    RecordLog(Path file) {
        this.file = file;
    }

    Path file() {
        return file;
    }

    /** What the file held: its intact records in order, and how many lines did not check out. */
    record Contents(List<String> records, int damagedLines) {
    }

    /** The intact records; a missing file holds none. */
    Contents read() throws IOException {
        if (!Files.exists(file)) {
            return new Contents(List.of(), 0);
        }
        String text = Files.readString(file, StandardCharsets.UTF_8);
        List<String> records = new ArrayList<>();
        int damaged = 0;
        int start = 0;
        while (start < text.length()) {
            int end = text.indexOf('\n', start);
            if (end < 0) {
                damaged++;
                break;
            }
            String record = decode(text.substring(start, end));
            if (record == null) {
                damaged++;
            } else {
                records.add(record);
            }
            start = end + 1;
        }
        return new Contents(records, damaged);
    }

    /** Appends one record and makes it durable. */
    void append(String record) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            ByteBuffer line = ByteBuffer.wrap(encode(record).getBytes(StandardCharsets.UTF_8));
            while (line.hasRemaining()) {
                ch.write(line);
            }
            ch.force(false);
        }
    }

    /** Replaces the file with exactly {@code records}, atomically. */
    void rewrite(List<String> records) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        StringBuilder text = new StringBuilder();
        for (String r : records) {
            text.append(encode(r));
        }
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer bytes = ByteBuffer.wrap(text.toString().getBytes(StandardCharsets.UTF_8));
            while (bytes.hasRemaining()) {
                ch.write(bytes);
            }
            ch.force(false);
        }
        try {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
        try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    static String encode(String record) {
        if (record.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("a record is one line");
        }
        return checksum(record) + " " + record + "\n";
    }

    /** The record of one line, or null when the line is damaged. */
    static String decode(String line) {
        int space = line.indexOf(' ');
        if (space != 8) {
            return null;
        }
        String record = line.substring(space + 1);
        return line.substring(0, space).equals(checksum(record)) ? record : null;
    }

    private static String checksum(String record) {
        CRC32C crc = new CRC32C();
        crc.update(record.getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().toHexDigits((int) crc.getValue());
    }
}
