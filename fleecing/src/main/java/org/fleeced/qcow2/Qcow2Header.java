package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.Errno;

/**
 * The image header (qcow2 spec "Header") with its extensions and the backing file name, as
 * read from and written to the first cluster.
 *
 * <p>{@link #parse} bounds-checks every field against the file size and the limits QEMU
 * enforces, so the rest of the driver can trust these numbers. {@link #encode} writes the same
 * layout back: extensions this driver does not understand and additional header bytes past 104
 * are kept as they were read.
 *
 * @param version               2 or 3
 * @param clusterBits           log2 of the cluster size
 * @param size                  virtual disk size in bytes
 * @param cryptMethod           0 (only unencrypted images are opened)
 * @param l1Size                L1 entries
 * @param l1TableOffset         host offset of the L1 table
 * @param refcountTableOffset   host offset of the refcount table
 * @param refcountTableClusters clusters the refcount table occupies
 * @param nbSnapshots           internal snapshots
 * @param snapshotsOffset       host offset of the snapshot table
 * @param features              the feature bits (all zero for version 2)
 * @param refcountOrder         log2 of the refcount width in bits
 * @param headerLength          bytes of the fixed header (72 for version 2)
 * @param tailBytes             header bytes from 104 to headerLength, kept verbatim (v3 only)
 * @param extensions            header extensions in file order, without the end marker
 * @param backingFile           the backing file name as stored, or null
 */
public record Qcow2Header(
        int version,
        int clusterBits,
        long size,
        int cryptMethod,
        int l1Size,
        long l1TableOffset,
        long refcountTableOffset,
        int refcountTableClusters,
        int nbSnapshots,
        long snapshotsOffset,
        FeatureBits features,
        int refcountOrder,
        int headerLength,
        byte[] tailBytes,
        List<HeaderExtension> extensions,
        String backingFile) {

    public static final int MAGIC = 0x514649fb;
    public static final int V2_HEADER_LENGTH = 72;
    public static final int V3_HEADER_LENGTH = 104;
    /** Byte offset of the incompatible features field. */
    public static final int INCOMPATIBLE_FEATURES_OFFSET = 72;
    /** Byte offset of the autoclear features field. */
    public static final int AUTOCLEAR_FEATURES_OFFSET = 88;
    /** Byte offset of refcount_table_offset, followed by refcount_table_clusters. */
    public static final int REFCOUNT_TABLE_FIELDS_OFFSET = 48;
    public static final int MAX_BACKING_FILE_NAME = 1023;
    /** QEMU's limits: a 32 MiB L1 table, an 8 MiB refcount table, 65536 snapshots. */
    public static final long MAX_L1_BYTES = 32L << 20;
    public static final long MAX_REFTABLE_BYTES = 8L << 20;
    public static final int MAX_SNAPSHOTS = 65536;

    public Qcow2Header {
        tailBytes = tailBytes.clone();
        extensions = List.copyOf(extensions);
    }

    @Override
    public byte[] tailBytes() {
        return tailBytes.clone();
    }

    public Qcow2Layout layout() {
        return new Qcow2Layout(clusterBits, refcountOrder);
    }

    public int clusterSize() {
        return 1 << clusterBits;
    }

    /** The first extension of a type, or null. */
    public HeaderExtension extension(int type) {
        for (HeaderExtension e : extensions) {
            if (e.type() == type) {
                return e;
            }
        }
        return null;
    }

    /** The backing format from its header extension ("raw", "qcow2"), or null when absent. */
    public String backingFormat() {
        HeaderExtension e = extension(HeaderExtension.BACKING_FORMAT);
        return e == null ? null : new String(e.data(), StandardCharsets.UTF_8);
    }

    public Qcow2Header withFeatures(FeatureBits newFeatures) {
        return new Qcow2Header(version, clusterBits, size, cryptMethod, l1Size, l1TableOffset,
                refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset, newFeatures,
                refcountOrder, headerLength, tailBytes, extensions, backingFile);
    }

    public Qcow2Header withRefcountTable(long offset, int clusters) {
        return new Qcow2Header(version, clusterBits, size, cryptMethod, l1Size, l1TableOffset,
                offset, clusters, nbSnapshots, snapshotsOffset, features,
                refcountOrder, headerLength, tailBytes, extensions, backingFile);
    }

    public Qcow2Header withExtensions(List<HeaderExtension> newExtensions) {
        return new Qcow2Header(version, clusterBits, size, cryptMethod, l1Size, l1TableOffset,
                refcountTableOffset, refcountTableClusters, nbSnapshots, snapshotsOffset, features,
                refcountOrder, headerLength, tailBytes, newExtensions, backingFile);
    }

    /** Reads just enough of the header to learn the cluster size; the caller then reads that cluster. */
    public static int peekClusterBits(ByteBuffer first104) throws BlockIOException {
        ByteBuffer b = first104.duplicate();
        if (b.remaining() < V2_HEADER_LENGTH) {
            throw invalid("file too short for a qcow2 header (" + b.remaining() + " bytes)");
        }
        if (b.getInt(0) != MAGIC) {
            throw invalid("bad magic, not a qcow2 image");
        }
        int clusterBits = b.getInt(20);
        if (clusterBits < Qcow2Layout.MIN_CLUSTER_BITS || clusterBits > Qcow2Layout.MAX_CLUSTER_BITS) {
            throw invalid("cluster_bits " + clusterBits + " out of range 9..21");
        }
        return clusterBits;
    }

    /**
     * Parses and validates the header from the image's first cluster.
     *
     * @param firstCluster the first {@code min(cluster size, file size)} bytes of the file
     * @param fileSize     the host file's size, against which every offset is checked
     */
    public static Qcow2Header parse(ByteBuffer firstCluster, long fileSize) throws BlockIOException {
        return new HeaderParser(firstCluster.duplicate(), fileSize).parse();
    }

    /** Encodes the header, extensions and backing file name into a buffer of one cluster. */
    public ByteBuffer encode() throws BlockIOException {
        ByteBuffer b = ByteBuffer.allocate(clusterSize());
        b.putInt(MAGIC).putInt(version);
        b.putLong(0).putInt(0); // backing file offset and size, filled in below
        b.putInt(clusterBits).putLong(size).putInt(cryptMethod).putInt(l1Size).putLong(l1TableOffset);
        b.putLong(refcountTableOffset).putInt(refcountTableClusters).putInt(nbSnapshots).putLong(snapshotsOffset);
        if (version >= 3) {
            b.putLong(features.incompatible()).putLong(features.compatible()).putLong(features.autoclear());
            b.putInt(refcountOrder).putInt(headerLength).put(tailBytes);
        }
        b.position(headerLength);
        for (HeaderExtension e : extensions) {
            if (b.remaining() < e.encodedSize() + 8) {
                throw new BlockIOException(Errno.ENOSPC, "header extensions do not fit in the first cluster");
            }
            b.putInt(e.type()).putInt(e.data().length).put(e.data());
            b.position(b.position() + (e.encodedSize() - 8 - e.data().length));
        }
        if (b.remaining() < 8) {
            throw new BlockIOException(Errno.ENOSPC, "header extensions do not fit in the first cluster");
        }
        b.putInt(HeaderExtension.END).putInt(0);
        if (backingFile != null) {
            byte[] name = backingFile.getBytes(StandardCharsets.UTF_8);
            if (name.length > MAX_BACKING_FILE_NAME || b.remaining() < name.length) {
                throw new BlockIOException(Errno.ENOSPC, "backing file name does not fit in the header");
            }
            b.putLong(8, b.position()).putInt(16, name.length);
            b.put(name);
        }
        return b.clear();
    }

    /** A header that breaks the spec: the image is invalid (EUCLEAN), whoever opens it. */
    /** The end-of-extensions marker: type 0 and length 0 (spec "Header extensions"). */
    private static final int EXTENSION_END_BYTES = 8;

    static BlockIOException invalid(String why) {
        return new BlockIOException(Errno.EUCLEAN, "invalid qcow2 header: " + why);
    }

    /** The validating parse, one field group per method. */
    private static final class HeaderParser {
        private final ByteBuffer b;
        private final long fileSize;

        HeaderParser(ByteBuffer b, long fileSize) {
            this.b = b;
            this.fileSize = fileSize;
        }

        Qcow2Header parse() throws BlockIOException {
            int clusterBits = peekClusterBits(b);
            int clusterSize = 1 << clusterBits;
            int version = b.getInt(4);
            if (version != 2 && version != 3) {
                throw new BlockIOException(Errno.ENOTSUP, "unsupported qcow2 version " + version);
            }
            if (version == 3 && b.limit() < V3_HEADER_LENGTH) {
                throw invalid("file too short for a version 3 header");
            }
            FeatureBits features = version == 3
                    ? new FeatureBits(b.getLong(72), b.getLong(80), b.getLong(88)) : FeatureBits.NONE;
            int refcountOrder = version == 3 ? b.getInt(96) : 4;
            int headerLength = version == 3 ? b.getInt(100) : V2_HEADER_LENGTH;
            checkHeaderLength(version, headerLength, clusterSize);
            if (refcountOrder < 0 || refcountOrder > Qcow2Layout.MAX_REFCOUNT_ORDER) {
                throw invalid("refcount_order " + Integer.toUnsignedString(refcountOrder) + " out of range 0..6");
            }
            Qcow2Layout layout = new Qcow2Layout(clusterBits, refcountOrder);
            long size = b.getLong(24);
            int cryptMethod = b.getInt(32);
            if (cryptMethod != 0) {
                throw new BlockIOException(Errno.ENOTSUP, "encrypted qcow2 images are not supported (crypt_method " + cryptMethod + ")");
            }
            int l1Size = b.getInt(36);
            long l1Offset = b.getLong(40);
            checkL1(layout, size, l1Size, l1Offset);
            long reftableOffset = b.getLong(48);
            int reftableClusters = b.getInt(56);
            checkTable("refcount table", layout, reftableOffset, (long) Integer.toUnsignedLong(reftableClusters) * clusterSize,
                    MAX_REFTABLE_BYTES);
            if (reftableClusters == 0) {
                throw invalid("image has no refcount table");
            }
            int nbSnapshots = b.getInt(60);
            long snapshotsOffset = b.getLong(64);
            if (Integer.toUnsignedLong(nbSnapshots) > MAX_SNAPSHOTS) {
                throw invalid("too many snapshots (" + Integer.toUnsignedString(nbSnapshots) + ")");
            }
            if (nbSnapshots != 0) {
                checkTable("snapshot table", layout, snapshotsOffset, 1, Long.MAX_VALUE);
            }
            byte[] tail = new byte[version == 3 ? headerLength - V3_HEADER_LENGTH : 0];
            b.get(V3_HEADER_LENGTH, tail);
            if (tail.length > 0 && tail[0] != 0 && !features.has(FeatureBits.INCOMPAT_COMPRESSION_TYPE)) {
                throw invalid("compression type " + tail[0] + " without the compression type feature bit");
            }
            long backingOffset = b.getLong(8);
            int backingSize = b.getInt(16);
            String backingFile = parseBackingName(backingOffset, backingSize, clusterSize);
            long extensionsEnd = backingFile != null ? backingOffset : b.limit();
            List<HeaderExtension> extensions = parseExtensions(headerLength, extensionsEnd);
            return new Qcow2Header(version, clusterBits, size, cryptMethod, l1Size, l1Offset, reftableOffset,
                    reftableClusters, nbSnapshots, snapshotsOffset, features, refcountOrder, headerLength,
                    tail, extensions, backingFile);
        }

        private void checkHeaderLength(int version, int headerLength, int clusterSize) throws BlockIOException {
            if (version == 3 && (headerLength < V3_HEADER_LENGTH || headerLength % 8 != 0
                    || headerLength > Math.min(clusterSize, b.limit()))) {
                throw invalid("header_length " + Integer.toUnsignedString(headerLength) + " invalid");
            }
            if (version == 3 && headerLength > clusterSize - EXTENSION_END_BYTES) {
                // spec "Header extensions": the list ends with an end marker, which must fit in the first cluster
                throw invalid("header_length " + headerLength + " leaves no room in the first cluster of "
                        + clusterSize + " bytes for the header extensions' end marker");
            }
        }

        private void checkL1(Qcow2Layout layout, long size, int l1Size, long l1Offset) throws BlockIOException {
            if (size < 0 || size > Long.MAX_VALUE - layout.bytesPerL2Table()) {
                throw invalid("virtual size " + Long.toUnsignedString(size) + " too large");
            }
            long l1Bytes = Integer.toUnsignedLong(l1Size) * Qcow2Layout.TABLE_ENTRY_BYTES;
            if (l1Bytes > MAX_L1_BYTES) {
                throw invalid("L1 table too large (" + Integer.toUnsignedString(l1Size) + " entries)");
            }
            if (layout.l1EntriesFor(size) > Integer.toUnsignedLong(l1Size)) {
                throw invalid("L1 table (" + l1Size + " entries) too small for virtual size " + size);
            }
            if (l1Size != 0) {
                checkTable("L1 table", layout, l1Offset, l1Bytes, MAX_L1_BYTES);
            }
        }

        private void checkTable(String what, Qcow2Layout layout, long offset, long bytes, long maxBytes)
                throws BlockIOException {
            if (bytes > maxBytes) {
                throw invalid(what + " too large (" + bytes + " bytes)");
            }
            if (offset <= 0 || !layout.isClusterAligned(offset)) {
                throw invalid(what + " offset " + offset + " not a cluster-aligned offset past the header");
            }
            if (offset > fileSize || bytes > fileSize - offset) {
                throw invalid(what + " at " + offset + " (+" + bytes + ") lies past the end of the file (" + fileSize + ")");
            }
        }

        private String parseBackingName(long offset, int size, int clusterSize) throws BlockIOException {
            if (offset == 0) {
                return null;
            }
            if (size <= 0 || size > MAX_BACKING_FILE_NAME || offset < V2_HEADER_LENGTH
                    || offset > Math.min(clusterSize, b.limit()) - (long) size) {
                throw invalid("backing file name at " + offset + " (" + size + " bytes) out of bounds");
            }
            byte[] name = new byte[size];
            b.get((int) offset, name);
            return new String(name, StandardCharsets.UTF_8);
        }

        private List<HeaderExtension> parseExtensions(int start, long end) throws BlockIOException {
            List<HeaderExtension> result = new ArrayList<>();
            Set<Integer> seen = new HashSet<>();
            long pos = start;
            while (pos + 8 <= end) {
                int type = b.getInt((int) pos);
                long length = Integer.toUnsignedLong(b.getInt((int) pos + 4));
                if (type == HeaderExtension.END) {
                    return result;
                }
                if (length > end - pos - 8) {
                    throw invalid(String.format("header extension 0x%08x (%d bytes) overruns the header", type, length));
                }
                if (!seen.add(type)) {
                    throw invalid(String.format("header extension 0x%08x appears twice", type));
                }
                byte[] data = new byte[(int) length];
                b.get((int) pos + 8, data);
                result.add(new HeaderExtension(type, data));
                pos += 8 + ((length + 7) & ~7L);
            }
            return result;
        }
    }
}
