package org.fleeced.checkpoint;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One checkpoint transition as the {@link CheckpointJournal} records it. Replayed on the
 * checkpoints an image holds, each entry is tolerant (a name that is missing or already there is
 * skipped) and only ever adds bits, so replaying an entry the image already reflects keeps a
 * superset of the true changes (see {@link JournalReplay}).
 *
 * <p>Payload, little-endian: u8 kind, u16 name length + UTF-8 name (0 for BASE), u16 count, then
 * count × (u16 length + UTF-8): the sources of a MERGE, the pending job checkpoints of a BASE.
 *
 * @param kind  what happened
 * @param name  the checkpoint it happened to; null for BASE
 * @param names MERGE: the sources; BASE: the checkpoints created by jobs not yet finished
 */
record JournalEntry(Kind kind, String name, List<String> names) {
    /** Longest name the journal accepts (the qcow2 limit is 1023 bytes). */
    static final int MAX_NAME_BYTES = 1023;

    enum Kind {
        /** The state the journal starts from: the image holds everything before it. */
        BASE,
        /** A checkpoint created outside a job: it is the newest and records; the previous newest froze. */
        CREATE,
        /** A checkpoint created by a job's start: as CREATE, and pending until COMMIT or FAIL. */
        BEGIN,
        /** The job that created the checkpoint finished with success. */
        COMMIT,
        /** The job failed: its checkpoint is removed, its bits merged into its predecessor. */
        FAIL,
        /** Removed through the API, or retired: bits merged into its predecessor. */
        REMOVE,
        CLEAR,
        /** The sources' bits ORed into the checkpoint. */
        MERGE,
        ENABLE,
        DISABLE
    }

    JournalEntry {
        Objects.requireNonNull(kind);
        if ((kind == Kind.BASE) != (name == null)) {
            throw new IllegalArgumentException("every entry but BASE names a checkpoint");
        }
        names = List.copyOf(names);
    }

    static JournalEntry of(Kind kind, String name) {
        return new JournalEntry(kind, name, List.of());
    }

    static JournalEntry base(List<String> pending) {
        return new JournalEntry(Kind.BASE, null, pending);
    }

    byte[] encode() {
        List<byte[]> parts = new ArrayList<>();
        parts.add(name == null ? new byte[0] : name.getBytes(StandardCharsets.UTF_8));
        for (String n : names) {
            parts.add(n.getBytes(StandardCharsets.UTF_8));
        }
        int bytes = 1 + 2;
        for (byte[] p : parts) {
            if (p.length > MAX_NAME_BYTES) {
                throw new IllegalArgumentException("checkpoint names have at most " + MAX_NAME_BYTES + " bytes");
            }
            bytes += 2 + p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put((byte) kind.ordinal());
        putString(b, parts.getFirst());
        b.putShort((short) names.size());
        for (int i = 1; i < parts.size(); i++) {
            putString(b, parts.get(i));
        }
        return b.array();
    }

    /** Decodes a payload whose checksum matched; null when it is not a valid entry. */
    static JournalEntry decode(ByteBuffer b) {
        try {
            int k = Byte.toUnsignedInt(b.get());
            if (k >= Kind.values().length) {
                return null;
            }
            Kind kind = Kind.values()[k];
            String name = getString(b);
            int count = Short.toUnsignedInt(b.getShort());
            List<String> names = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                names.add(getString(b));
            }
            if (b.hasRemaining() || (kind == Kind.BASE) != name.isEmpty()) {
                return null;
            }
            return new JournalEntry(kind, kind == Kind.BASE ? null : name, names);
        } catch (BufferUnderflowException | IllegalArgumentException e) {
            return null;
        }
    }

    private static void putString(ByteBuffer b, byte[] s) {
        b.putShort((short) s.length);
        b.put(s);
    }

    private static String getString(ByteBuffer b) {
        int n = Short.toUnsignedInt(b.getShort());
        if (n > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("name too long");
        }
        byte[] s = new byte[n];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }
}
