package org.fleeced.daemon.nbd.protocol;

import java.util.ArrayList;
import java.util.List;

/**
 * The data of NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT: u32 export name length,
 * name, u32 query count, then count x (u32 length, query). Lengths that overrun the option make it
 * malformed (the spec's MUST: NBD_REP_ERR_INVALID).
 */
public record MetaContextRequest(String exportName, List<String> queries) {

    public static MetaContextRequest parse(byte[] data) throws MalformedOptionException {
        OptionDataReader reader = new OptionDataReader(data);
        String name = reader.lengthPrefixedString("export name");
        long count = reader.u32();
        if (count > reader.remaining() / 4) {
            throw new MalformedOptionException("query count " + count + " overruns the option");
        }
        List<String> queries = new ArrayList<>((int) count);
        for (long i = 0; i < count; i++) {
            queries.add(reader.lengthPrefixedString("meta context query"));
        }
        reader.expectEnd("meta context request");
        return new MetaContextRequest(name, List.copyOf(queries));
    }
}
