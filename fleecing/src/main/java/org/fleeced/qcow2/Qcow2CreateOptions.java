package org.fleeced.qcow2;

/**
 * What {@link Qcow2Creator} makes: always a version 3 image.
 *
 * @param sizeBytes      virtual disk size
 * @param clusterSize    512 B to 2 MiB, a power of two (default 64 KiB)
 * @param refcountOrder  log2 of the refcount width, 0..6 (default 4: 16-bit)
 * @param backingFile    the backing file name as stored (relative names resolve against the
 *                       image's directory), or null
 * @param backingFormat  "qcow2" or "raw" for the backing format extension, or null to probe
 * @param preallocation  OFF, or METADATA: every L2 table and data cluster allocated up front
 * @param lazyRefcounts  set the lazy refcounts compatible bit
 */
public record Qcow2CreateOptions(long sizeBytes, int clusterSize, int refcountOrder, String backingFile,
                                 String backingFormat, Preallocation preallocation, boolean lazyRefcounts) {
    public static final int DEFAULT_CLUSTER_SIZE = 64 << 10;
    public static final int DEFAULT_REFCOUNT_ORDER = 4;

    /** How much to allocate at creation. */
    public enum Preallocation { OFF, METADATA }

    public Qcow2CreateOptions {
        if (sizeBytes < 0) {
            throw new IllegalArgumentException("negative size " + sizeBytes);
        }
        if (Integer.bitCount(clusterSize) != 1 || clusterSize < 512 || clusterSize > (2 << 20)) {
            throw new IllegalArgumentException("cluster size " + clusterSize + " is not a power of two from 512 B to 2 MiB");
        }
        if (refcountOrder < 0 || refcountOrder > Qcow2Layout.MAX_REFCOUNT_ORDER) {
            throw new IllegalArgumentException("refcount order " + refcountOrder + " out of range 0..6");
        }
        if (backingFormat != null && backingFile == null) {
            throw new IllegalArgumentException("a backing format needs a backing file");
        }
        if (preallocation == Preallocation.METADATA && backingFile != null) {
            throw new IllegalArgumentException("preallocation=metadata would hide the backing file");
        }
        if (preallocation == null) {
            throw new IllegalArgumentException("preallocation must be given");
        }
    }

    public static Qcow2CreateOptions of(long sizeBytes) {
        return new Qcow2CreateOptions(sizeBytes, DEFAULT_CLUSTER_SIZE, DEFAULT_REFCOUNT_ORDER, null, null,
                Preallocation.OFF, false);
    }

    public Qcow2CreateOptions withClusterSize(int bytes) {
        return new Qcow2CreateOptions(sizeBytes, bytes, refcountOrder, backingFile, backingFormat, preallocation, lazyRefcounts);
    }

    public Qcow2CreateOptions withRefcountOrder(int order) {
        return new Qcow2CreateOptions(sizeBytes, clusterSize, order, backingFile, backingFormat, preallocation, lazyRefcounts);
    }

    public Qcow2CreateOptions withBacking(String file, String format) {
        return new Qcow2CreateOptions(sizeBytes, clusterSize, refcountOrder, file, format, preallocation, lazyRefcounts);
    }

    public Qcow2CreateOptions withPreallocation(Preallocation p) {
        return new Qcow2CreateOptions(sizeBytes, clusterSize, refcountOrder, backingFile, backingFormat, p, lazyRefcounts);
    }

    public Qcow2CreateOptions withLazyRefcounts(boolean lazy) {
        return new Qcow2CreateOptions(sizeBytes, clusterSize, refcountOrder, backingFile, backingFormat, preallocation, lazy);
    }
}
