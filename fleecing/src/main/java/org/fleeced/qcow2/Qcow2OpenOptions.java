package org.fleeced.qcow2;

import java.nio.file.Path;

/**
 * How to open a qcow2 image.
 *
 * @param readOnly           open without writing anything (no lock, no repair, no header change)
 * @param l2CacheBytes       bytes of L2 tables to cache; 0 = enough to map 8 GiB of guest data
 * @param refcountCacheBytes bytes of refcount blocks to cache; 0 = enough to count 8 GiB of host data
 * @param backingOverride    open this file as the backing file instead of the one the header
 *                           names, or null
 * @param noBacking          ignore the backing file entirely (unallocated clusters read as zeroes)
 * @param backingPolicy      which backing files the header may name (every member of the chain)
 */
public record Qcow2OpenOptions(boolean readOnly, long l2CacheBytes, long refcountCacheBytes,
                               Path backingOverride, boolean noBacking, BackingPolicy backingPolicy) {
    /** Guest (and host) bytes the default caches cover. */
    public static final long DEFAULT_CACHE_COVERAGE = 8L << 30;

    public Qcow2OpenOptions {
        if (l2CacheBytes < 0 || refcountCacheBytes < 0) {
            throw new IllegalArgumentException("negative cache size");
        }
        java.util.Objects.requireNonNull(backingPolicy);
    }

    public static Qcow2OpenOptions readWrite() {
        return new Qcow2OpenOptions(false, 0, 0, null, false, BackingPolicy.unconfined());
    }

    public static Qcow2OpenOptions readOnlyDefaults() {
        return new Qcow2OpenOptions(true, 0, 0, null, false, BackingPolicy.unconfined());
    }

    public Qcow2OpenOptions withCacheBytes(long l2Bytes, long refcountBytes) {
        return new Qcow2OpenOptions(readOnly, l2Bytes, refcountBytes, backingOverride, noBacking, backingPolicy);
    }

    public Qcow2OpenOptions withBacking(Path backing) {
        return new Qcow2OpenOptions(readOnly, l2CacheBytes, refcountCacheBytes, backing, false, backingPolicy);
    }

    public Qcow2OpenOptions withBackingPolicy(BackingPolicy policy) {
        return new Qcow2OpenOptions(readOnly, l2CacheBytes, refcountCacheBytes, backingOverride, noBacking, policy);
    }

    int l2CacheTables(Qcow2Layout layout) {
        long bytes = l2CacheBytes > 0 ? l2CacheBytes
                : (DEFAULT_CACHE_COVERAGE / layout.bytesPerL2Table()) * layout.clusterSize();
        return (int) Math.clamp(bytes / layout.clusterSize(), 2, Integer.MAX_VALUE);
    }

    int refcountCacheBlocks(Qcow2Layout layout) {
        long bytes = refcountCacheBytes > 0 ? refcountCacheBytes
                : (DEFAULT_CACHE_COVERAGE / layout.bytesPerRefblock()) * layout.clusterSize();
        return (int) Math.clamp(bytes / layout.clusterSize(), 2, Integer.MAX_VALUE);
    }
}
