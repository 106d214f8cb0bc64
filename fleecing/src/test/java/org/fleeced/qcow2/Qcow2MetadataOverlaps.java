package org.fleeced.qcow2;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The clusters of an image that hold data and metadata at once, read from its bytes (qcow2 spec
 * "Host cluster management": every cluster has one owner): a data cluster an L2 entry or a
 * bitmap table entry points at, lying on the header cluster, the L1 or refcount table, an L2
 * table, a refcount block, the bitmap directory or a bitmap table. The fuzzer compares the
 * overlaps before and after a read-write open: a new one means a write (data, or a table the
 * driver allocated) landed on the image's own metadata, which the driver must never do, even
 * when the image came in damaged.
 *
 * <p>Read through {@link Qcow2ImageMap}, the fuzzer's own spec parser, not the driver's.
 */
final class Qcow2MetadataOverlaps {
    /** Bit 62 of an L2 entry: a compressed cluster, whose offset field means something else. */
    private static final long COMPRESSED = 1L << 62;
    /** Bits 9-55 of an L2 or bitmap table entry: the host offset. */
    private static final long OFFSET_MASK = L2Entry.OFFSET_MASK;

    /** One metadata structure where it lies: "L2 table [29696, 30208)". */
    record Metadata(String what, long offset, long end) {
        @Override
        public String toString() {
            return what + " [" + offset + ", " + end + ")";
        }
    }

    /** A data cluster on a metadata structure. */
    record Overlap(long dataCluster, Metadata metadata) {
        @Override
        public String toString() {
            return "data cluster " + dataCluster + " on the " + metadata;
        }
    }

    /**
     * What one image holds: its metadata, its data clusters, where they overlap, and the clusters
     * named by tables that share bytes with other metadata (whose entries map nothing while so).
     */
    record Scan(Set<Metadata> metadata, Set<Long> dataClusters, Set<Long> compressedClusters, Set<Overlap> overlaps,
                Set<Long> aliasedMappings) {
        /**
         * The overlaps this image has and {@code before} did not, but for those that only show
         * damage the image came with: a table the driver allocated on a cluster that held data
         * already (or that a compressed cluster spanned), because the refcount said the cluster
         * was free (the driver cannot see that, as QEMU cannot); or an entry of a table that was aliased before and is not now, because the
         * other structure moved away (a bitmap store writes a new directory), so the entry it
         * always had counts again. What remains is a write onto metadata: data on a structure that
         * was metadata before, or a cluster handed out twice in this run.
         */
        List<Overlap> newWritesOnMetadata(Scan before) {
            List<Overlap> found = new ArrayList<>();
            for (Overlap o : overlaps) {
                boolean staleRefcount = !before.metadata().contains(o.metadata())
                        && (before.dataClusters().contains(o.dataCluster())
                            || before.compressedClusters().contains(o.dataCluster()));
                boolean unmasked = before.aliasedMappings().contains(o.dataCluster());
                if (!before.overlaps().contains(o) && !staleRefcount && !unmasked) {
                    found.add(o);
                }
            }
            return found;
        }
    }

    private Qcow2MetadataOverlaps() {
    }

    /** The image as the spec reads it; null when it does not parse far enough to say. */
    static Scan of(byte[] image) {
        Qcow2ImageMap map;
        try {
            map = Qcow2ImageMap.of(image);
        } catch (RuntimeException unparsable) {
            return null;
        }
        int cluster = map.clusterSize();
        Set<Metadata> metadata = metadata(map);
        Set<Long> data = new TreeSet<>();
        Set<Long> aliasedMappings = new java.util.HashSet<>();
        Set<Long> compressed = new java.util.HashSet<>();
        ByteBuffer b = ByteBuffer.wrap(image);
        for (Qcow2ImageMap.Region l2 : map.l2Tables()) {
            if (aliased(of("L2 table", l2), metadata)) {
                // a damaged L1 entry made another structure an L2 table: its entries map nothing
                addEntries(b, image, l2, aliasedMappings);
                continue;
            }
            for (long p = l2.offset(); inside(p, l2, image); p += 8) {
                long entry = b.getLong((int) p);
                if ((entry & COMPRESSED) == 0 && (entry & OFFSET_MASK) != 0) {
                    data.add(entry & OFFSET_MASK);
                } else if ((entry & COMPRESSED) != 0) {
                    addCompressedSpan(entry, map.clusterSize(), compressed);
                }
            }
        }
        for (Qcow2ImageMap.Region table : map.bitmapTables()) {
            if (aliased(of("bitmap table", table), metadata)) {
                addEntries(b, image, table, aliasedMappings);
                continue;
            }
            for (long p = table.offset(); inside(p, table, image); p += 8) {
                long host = b.getLong((int) p) & OFFSET_MASK;
                if (host != 0) {
                    data.add(host);
                }
            }
        }
        Set<Overlap> overlaps = new java.util.HashSet<>();
        for (long host : data) {
            for (Metadata m : metadata) {
                if (m.end() > m.offset() && host < m.end() && m.offset() < host + cluster) {
                    overlaps.add(new Overlap(host, m));
                }
            }
        }
        return new Scan(metadata, data, compressed, overlaps, aliasedMappings);
    }

    /**
     * The host clusters a compressed L2 entry's data spans (spec: x = 62 - (cluster_bits - 8)
     * offset bits, then the count of additional 512-byte sectors).
     */
    private static void addCompressedSpan(long entry, int clusterSize, Set<Long> into) {
        int clusterBits = Integer.numberOfTrailingZeros(clusterSize);
        if (clusterBits < Qcow2Layout.MIN_CLUSTER_BITS || clusterBits > Qcow2Layout.MAX_CLUSTER_BITS) {
            return;
        }
        int x = 62 - (clusterBits - 8);
        long offset = entry & ((1L << x) - 1);
        long sectors = ((entry & ~COMPRESSED) >>> x & ((1L << (clusterBits - 8)) - 1)) + 1;
        long end = (offset & ~511L) + sectors * 512;
        for (long c = offset & -clusterSize; c < end; c += clusterSize) {
            into.add(c);
        }
    }

    /** Every host offset a table's entries name, compressed or not: what an aliased table would map. */
    private static void addEntries(ByteBuffer b, byte[] image, Qcow2ImageMap.Region table, Set<Long> into) {
        for (long p = table.offset(); inside(p, table, image); p += 8) {
            long host = b.getLong((int) p) & OFFSET_MASK;
            if (host != 0) {
                into.add(host);
            }
        }
    }

    private static Set<Metadata> metadata(Qcow2ImageMap map) {
        Set<Metadata> all = new java.util.HashSet<>();
        all.add(new Metadata("header cluster", 0, map.clusterSize()));
        all.add(of("L1 table", map.l1()));
        map.l2Tables().forEach(r -> all.add(of("L2 table", r)));
        all.add(of("refcount table", map.refcountTable()));
        map.refcountBlocks().forEach(r -> all.add(of("refcount block", r)));
        if (map.bitmapDirectory() != null) {
            all.add(of("bitmap directory", map.bitmapDirectory()));
        }
        map.bitmapTables().forEach(r -> all.add(of("bitmap table", r)));
        return all;
    }

    /** Whether the entry at {@code p} lies in the table and in the file (a damaged offset may be anything). */
    private static boolean inside(long p, Qcow2ImageMap.Region table, byte[] image) {
        return table.offset() >= 0 && table.offset() <= image.length && p >= 0 && p <= table.end() - 8
                && p <= image.length - 8;
    }

    /** Whether a table shares bytes with another metadata structure (then it is damage, not a mapping). */
    private static boolean aliased(Metadata table, Set<Metadata> metadata) {
        for (Metadata m : metadata) {
            if (!m.equals(table) && m.end() > m.offset() && table.offset() < m.end() && m.offset() < table.end()) {
                return true;
            }
        }
        return false;
    }

    private static Metadata of(String what, Qcow2ImageMap.Region r) {
        return new Metadata(what, r.offset(), r.end());
    }
}
