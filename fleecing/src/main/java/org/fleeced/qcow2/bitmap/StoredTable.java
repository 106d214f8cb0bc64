package org.fleeced.qcow2.bitmap;

/**
 * Where one bitmap's table and data live in the image: the host clusters a store must free when
 * it replaces them.
 *
 * @param tableOffset  host offset of the bitmap table
 * @param tableSize    entries in the table
 * @param dataClusters host offsets of the data clusters the table references
 */
record StoredTable(long tableOffset, int tableSize, long[] dataClusters) {
    StoredTable {
        dataClusters = dataClusters.clone();
    }

    @Override
    public long[] dataClusters() {
        return dataClusters.clone();
    }

    long tableBytes() {
        return (long) tableSize * 8;
    }
}
