package org.fleeced.daemon.nbd.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Logger;

/**
 * The exports the server publishes, changed at runtime: fleecing jobs register a read-only export
 * when they start and unregister it when they end. Unregistering closes every connection still
 * using the export, so that no client reads a node its owner is about to close. Thread-safe.
 */
public final class NbdExportRegistry {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.nbd");

    /** A connection that is in transmission on an export. */
    interface ExportConnection {
        /** Closes the connection because its export went away; must not block. */
        void closeForExportRemoval();
    }

    private record Entry(NbdExport export, Set<ExportConnection> connections) {
    }

    private final ReentrantLock lock = new ReentrantLock();
    /** Guarded by {@link #lock}; in registration order, which is NBD_OPT_LIST's order. */
    private final Map<String, Entry> exports = new LinkedHashMap<>();

    /** Publishes an export. Throws {@link IllegalStateException} if the name is taken. */
    public void register(NbdExport export) {
        lock.lock();
        try {
            if (exports.containsKey(export.name())) {
                throw new IllegalStateException("export '" + export.name() + "' already exists");
            }
            exports.put(export.name(), new Entry(export, ConcurrentHashMap.newKeySet()));
        } finally {
            lock.unlock();
        }
        LOG.info("export '" + export.name() + "' added: " + export.node().describe()
                + (export.refusesWrites() ? " (read-only)" : ""));
    }

    /**
     * Withdraws an export and closes the connections that use it; returns false if there was none.
     * Requests already running on those connections may still finish.
     */
    public boolean unregister(String name) {
        Entry removed;
        lock.lock();
        try {
            removed = exports.remove(name);
        } finally {
            lock.unlock();
        }
        if (removed == null) {
            return false;
        }
        for (ExportConnection connection : removed.connections()) {
            connection.closeForExportRemoval();
        }
        LOG.info("export '" + name + "' removed, " + removed.connections().size() + " connection(s) closed");
        return true;
    }

    /**
     * Withdraws an export only when no connection uses it; otherwise leaves it served. Returns
     * how many connections use it: 0 when it was withdrawn (or there was no such export).
     */
    public int unregisterIfUnused(String name) {
        lock.lock();
        try {
            Entry entry = exports.get(name);
            if (entry == null) {
                return 0;
            }
            if (!entry.connections().isEmpty()) {
                return entry.connections().size();
            }
            exports.remove(name);
        } finally {
            lock.unlock();
        }
        LOG.info("export '" + name + "' removed, no connection used it");
        return 0;
    }

    public Optional<NbdExport> find(String name) {
        lock.lock();
        try {
            Entry entry = exports.get(name);
            return entry == null ? Optional.empty() : Optional.of(entry.export());
        } finally {
            lock.unlock();
        }
    }

    public List<NbdExport> list() {
        lock.lock();
        try {
            List<NbdExport> all = new ArrayList<>(exports.size());
            exports.values().forEach(entry -> all.add(entry.export()));
            return all;
        } finally {
            lock.unlock();
        }
    }

    /** Records that a connection uses this export; false if the export is no longer registered. */
    boolean attach(NbdExport export, ExportConnection connection) {
        lock.lock();
        try {
            Entry entry = exports.get(export.name());
            if (entry == null || entry.export() != export) {
                return false;
            }
            entry.connections().add(connection);
            return true;
        } finally {
            lock.unlock();
        }
    }

    void detach(NbdExport export, ExportConnection connection) {
        lock.lock();
        try {
            Entry entry = exports.get(export.name());
            if (entry != null) {
                entry.connections().remove(connection);
            }
        } finally {
            lock.unlock();
        }
    }
}
