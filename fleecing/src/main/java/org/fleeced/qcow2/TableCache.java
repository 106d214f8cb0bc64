package org.fleeced.qcow2;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * A least-recently-used cache of metadata clusters keyed by host offset, with write-back.
 *
 * <p>Dirty tables are never dropped: the cache only evicts clean ones. The owner writes dirty
 * tables back in the order the qcow2 crash rules need (see {@link Qcow2Metadata#flushLocked}),
 * then calls {@link #evictClean()}; {@link #overCapacity()} says when that is due.
 *
 * <p>Not thread-safe: guarded by the image's metadata lock.
 *
 * @param <T> L2 tables or refcount blocks
 */
final class TableCache<T extends CachedTable> {
    private final int capacity;
    /** Access-ordered: iteration starts at the least recently used table. */
    private final LinkedHashMap<Long, T> tables = new LinkedHashMap<>(16, 0.75f, true);

    TableCache(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("cache capacity " + capacity);
        }
        this.capacity = capacity;
    }

    /** The cached table at a host offset, or null. */
    T get(long hostOffset) {
        return tables.get(hostOffset);
    }

    void put(T table) {
        tables.put(table.hostOffset(), table);
    }

    void remove(long hostOffset) {
        tables.remove(hostOffset);
    }

    int capacity() {
        return capacity;
    }

    boolean overCapacity() {
        return tables.size() > capacity;
    }

    List<T> dirtyTables() {
        List<T> dirty = new ArrayList<>();
        for (T t : tables.values()) {
            if (t.isDirty()) {
                dirty.add(t);
            }
        }
        return dirty;
    }

    boolean hasDirty() {
        for (T t : tables.values()) {
            if (t.isDirty()) {
                return true;
            }
        }
        return false;
    }

    /** Drops least recently used clean tables until the cache is within capacity. */
    void evictClean() {
        Iterator<T> it = tables.values().iterator();
        while (tables.size() > capacity && it.hasNext()) {
            if (!it.next().isDirty()) {
                it.remove();
            }
        }
    }
}
