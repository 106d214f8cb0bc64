package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

/**
 * The fuzzer's mutations of the first cluster: header fields, feature bits, header extensions
 * (types, lengths, inserted and duplicated ones) and the backing file name and format.
 */
final class Qcow2HeaderMutator {
    /** A header field: name, byte offset, width (qcow2 spec "Header"). */
    private record Field(String name, int offset, int width) {
    }

    private static final List<Field> FIELDS = List.of(
            new Field("version", 4, 4), new Field("backing_file_offset", 8, 8), new Field("backing_file_size", 16, 4),
            new Field("cluster_bits", 20, 4), new Field("size", 24, 8), new Field("crypt_method", 32, 4),
            new Field("l1_size", 36, 4), new Field("l1_table_offset", 40, 8), new Field("refcount_table_offset", 48, 8),
            new Field("refcount_table_clusters", 56, 4), new Field("nb_snapshots", 60, 4),
            new Field("snapshots_offset", 64, 8), new Field("incompatible_features", 72, 8),
            new Field("compatible_features", 80, 8), new Field("autoclear_features", 88, 8),
            new Field("refcount_order", 96, 4), new Field("header_length", 100, 4), new Field("compression_type", 104, 1));

    /** Extension types worth forging: the ones the spec defines, fleeced's own link, and the end marker. */
    private static final int[] TYPES = {HeaderExtension.END, HeaderExtension.BACKING_FORMAT,
        HeaderExtension.FEATURE_NAME_TABLE, HeaderExtension.BITMAPS, HeaderExtension.CRYPTO_HEADER,
        HeaderExtension.EXTERNAL_DATA_FILE, 0x666c6563, 0x12345678};

    /** Stands for a name whose bytes are not UTF-8. */
    private static final String INVALID_UTF8 = "(invalid UTF-8)";

    /** Backing names a hostile header could give: loops, fleeced's files, nothing, too long, bad UTF-8. */
    private static final String[] BACKING_NAMES = {Qcow2BaseImages.GUARD_NAME, Qcow2BaseImages.CASE_NAME,
        "./" + Qcow2BaseImages.CASE_NAME, Qcow2BaseImages.CASE_NAME + ".fleeced-intent", "missing.qcow2", ".", "..",
        Qcow2BaseImages.RAW_BACKING, Qcow2BaseImages.QCOW2_BACKING, "sub/../" + Qcow2BaseImages.QCOW2_BACKING,
        "a".repeat(1023), "a".repeat(1024), "nul\0byte", INVALID_UTF8};

    private Qcow2HeaderMutator() {
    }

    static void field(Qcow2Mutation m) {
        Random r = m.random();
        Field f = FIELDS.get(r.nextInt(FIELDS.size()));
        long current = f.width() == 8 ? m.getLong(f.offset()) : m.getInt(f.offset());
        long value;
        if (f.name().equals("cluster_bits") || f.name().equals("refcount_order") || f.name().equals("version")) {
            value = r.nextInt(4) == 0 ? m.interestingInt((int) current) : r.nextInt(24);
        } else if (f.width() == 8) {
            value = m.interestingLong(current);
        } else {
            value = m.interestingInt((int) current);
        }
        m.put("header " + f.name(), f.offset(), f.width(), value);
    }

    /**
     * A large virtual size the header can still justify: l1_size grown to cover it, as far as
     * the L1 table fits between its offset and the end of the file. Such an image opens, so
     * everything sized from the virtual size (bitmaps, intent log, block status) gets reached.
     */
    static void virtualSize(Qcow2Mutation m) {
        Random r = m.random();
        long cluster = m.clusterSize();
        long bytesPerL2 = cluster * (cluster / 8);
        long l1Offset = m.getLong(40);
        long maxEntries = Math.min((m.bytes().length - l1Offset) / 8, Qcow2Header.MAX_L1_BYTES / 8);
        if (l1Offset <= 0 || maxEntries <= 0) {
            return;
        }
        long entries = r.nextBoolean() ? maxEntries : 1 + r.nextLong(maxEntries);
        long size = Math.multiplyHigh(entries, bytesPerL2) != 0 ? Long.MAX_VALUE / 2 : entries * bytesPerL2;
        size -= r.nextBoolean() ? 0 : r.nextLong(Math.max(1, bytesPerL2)) / 512 * 512;
        m.put("header size (covered by the L1 table)", 24, 8, size);
        m.put("header l1_size", 36, 4, (size + bytesPerL2 - 1) / bytesPerL2);
    }

    static void featureBit(Qcow2Mutation m) {
        Random r = m.random();
        int offset = 72 + 8 * r.nextInt(3);
        int bit = r.nextInt(3) == 0 ? r.nextInt(64) : (r.nextBoolean() ? 63 : r.nextInt(5));
        m.put("feature bit " + bit + " flipped", offset, 8, m.getLong(offset) ^ (1L << bit));
    }

    static void extension(Qcow2Mutation m) {
        List<Qcow2ImageMap.Extension> exts = m.map().extensions();
        Random r = m.random();
        if (exts.isEmpty() || r.nextInt(3) == 0) {
            insertExtension(m);
            return;
        }
        Qcow2ImageMap.Extension e = exts.get(r.nextInt(exts.size()));
        switch (r.nextInt(4)) {
            case 0 -> m.put("extension type", e.offset(), 4, TYPES[r.nextInt(TYPES.length)]);
            case 1 -> m.put("extension length", e.offset() + 4, 4, m.interestingInt(e.length()));
            case 2 -> m.put("extension length to the end of the cluster", e.offset() + 4, 4,
                    m.clusterSize() - e.offset() - 8 + r.nextInt(-1, 2));
            default -> flipInData(m, e);
        }
    }

    private static void flipInData(Qcow2Mutation m, Qcow2ImageMap.Extension e) {
        if (e.length() == 0) {
            return;
        }
        long at = e.offset() + 8 + m.random().nextInt(e.length());
        m.put("extension data byte", at, 1, m.random().nextInt(256));
    }

    /**
     * Writes an extension (a copy of an existing one, so a duplicate, or one of a forged type with
     * random data) over the end marker, followed by a new end marker, when the cluster has room
     * before the backing file name.
     */
    private static void insertExtension(Qcow2Mutation m) {
        Random r = m.random();
        List<Qcow2ImageMap.Extension> exts = m.map().extensions();
        long end = exts.isEmpty() ? headerLength(m) : last(exts).offset() + 8 + ((last(exts).length() + 7) & ~7);
        long limit = m.map().backingName() != null ? m.map().backingName().offset() : m.clusterSize();
        byte[] data;
        int type;
        if (!exts.isEmpty() && r.nextBoolean()) {
            Qcow2ImageMap.Extension copy = exts.get(r.nextInt(exts.size()));
            type = copy.type();
            data = m.copyOf(copy.offset() + 8, copy.length());
        } else {
            type = TYPES[1 + r.nextInt(TYPES.length - 1)];
            data = forgedData(type, m);
        }
        int padded = (data.length + 7) & ~7;
        if (end + 8 + padded + 8 > limit) {
            return;
        }
        ByteBuffer b = ByteBuffer.allocate(8 + padded + 8).putInt(type).putInt(data.length).put(data);
        m.putBytes(String.format("inserted extension 0x%08x (%d bytes)", type, data.length), end, b.array());
    }

    private static byte[] forgedData(int type, Qcow2Mutation m) {
        Random r = m.random();
        if (type == HeaderExtension.BITMAPS) {
            return ByteBuffer.allocate(24).putInt(m.interestingInt(1)).putInt(r.nextInt(8) == 0 ? 1 : 0)
                    .putLong(m.interestingLong(24)).putLong(m.target()).array();
        }
        if (type == HeaderExtension.BACKING_FORMAT) {
            String[] formats = {"qcow2", "raw", "vmdk", "", "qcow2\0", "QCOW2"};
            return formats[r.nextInt(formats.length)].getBytes(StandardCharsets.UTF_8);
        }
        byte[] data = new byte[r.nextInt(64)];
        r.nextBytes(data);
        return data;
    }

    static void backing(Qcow2Mutation m) {
        Random r = m.random();
        switch (r.nextInt(3)) {
            case 0 -> {
                m.put("backing_file_offset", 8, 8, m.interestingLong(m.getLong(8)));
                m.put("backing_file_size", 16, 4, r.nextBoolean() ? m.interestingInt(m.getInt(16)) : r.nextInt(1100));
            }
            case 1 -> backingName(m, BACKING_NAMES[r.nextInt(BACKING_NAMES.length)]);
            default -> {
                backingName(m, BACKING_NAMES[r.nextInt(BACKING_NAMES.length)]);
                insertExtensionOfType(m, HeaderExtension.BACKING_FORMAT);
            }
        }
    }

    /** Puts a backing file name at the end of the first cluster and points the header at it. */
    private static void backingName(Qcow2Mutation m, String name) {
        byte[] raw = name.equals(INVALID_UTF8) ? new byte[] {(byte) 0xff, (byte) 0xfe, 'x'}
                : name.getBytes(StandardCharsets.UTF_8);
        long at = m.clusterSize() - raw.length;
        List<Qcow2ImageMap.Extension> exts = m.map().extensions();
        long extensionsEnd = exts.isEmpty() ? headerLength(m) + 8 : last(exts).offset() + 16 + ((last(exts).length() + 7) & ~7);
        if (at < extensionsEnd) {
            return;
        }
        m.putBytes("backing file name '" + name.replace("\0", "\\0") + "'", at, raw);
        m.put("backing_file_offset", 8, 8, at);
        m.put("backing_file_size", 16, 4, raw.length);
    }

    private static void insertExtensionOfType(Qcow2Mutation m, int type) {
        List<Qcow2ImageMap.Extension> exts = m.map().extensions();
        for (Qcow2ImageMap.Extension e : exts) {
            if (e.type() == type) {
                flipInData(m, e);
                return;
            }
        }
        insertExtension(m);
    }

    private static long headerLength(Qcow2Mutation m) {
        return m.map().headerLength();
    }

    private static Qcow2ImageMap.Extension last(List<Qcow2ImageMap.Extension> exts) {
        return exts.get(exts.size() - 1);
    }
}
