package org.fleeced.daemon.nbd.server;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Which of an export's contexts a query list names (NBD proto "Metadata querying").
 *
 * <ul>
 *   <li>LIST: no queries means every context; a query ending in ':' is a wildcard for every
 *       context under it ({@code base:}, {@code qemu:}, {@code qemu:dirty-bitmap:}); any other
 *       query matches one name exactly.</li>
 *   <li>SET: exact names only, so {@code base:} alone selects nothing, as the spec requires; no
 *       queries selects nothing.</li>
 *   <li>Unknown namespaces and leaves match nothing and are not errors. Each context is answered
 *       once however often it is named. Context ids are the context's index in the export's list.</li>
 * </ul>
 */
final class MetaContextMatcher {
    private MetaContextMatcher() {
    }

    static List<SelectedContext> forList(NbdExport export, List<String> queries) {
        if (queries.isEmpty()) {
            return all(export);
        }
        Set<Integer> ids = new LinkedHashSet<>();
        List<MetaContextSource> sources = export.metaContexts();
        for (String query : queries) {
            for (int id = 0; id < sources.size(); id++) {
                String name = sources.get(id).name();
                if (query.endsWith(":") ? name.startsWith(query) : name.equals(query)) {
                    ids.add(id);
                }
            }
        }
        return select(export, ids);
    }

    static List<SelectedContext> forSet(NbdExport export, List<String> queries) {
        Set<Integer> ids = new LinkedHashSet<>();
        List<MetaContextSource> sources = export.metaContexts();
        for (String query : queries) {
            for (int id = 0; id < sources.size(); id++) {
                if (sources.get(id).name().equals(query)) {
                    ids.add(id);
                }
            }
        }
        return select(export, ids);
    }

    private static List<SelectedContext> all(NbdExport export) {
        List<SelectedContext> all = new ArrayList<>();
        for (int id = 0; id < export.metaContexts().size(); id++) {
            all.add(new SelectedContext(id, export.metaContexts().get(id)));
        }
        return all;
    }

    private static List<SelectedContext> select(NbdExport export, Set<Integer> ids) {
        List<SelectedContext> selected = new ArrayList<>(ids.size());
        for (int id : ids) {
            selected.add(new SelectedContext(id, export.metaContexts().get(id)));
        }
        return selected;
    }
}
