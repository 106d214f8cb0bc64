package org.fleeced.daemon.nbd.protocol;

import java.util.ArrayList;
import java.util.List;

/**
 * The data of NBD_OPT_INFO and NBD_OPT_GO: u32 name length, name, u16 count, count x u16 info
 * types. Unknown info types are kept; the server ignores them.
 */
public record InfoRequest(String exportName, List<Integer> infoTypes) {

    public static InfoRequest parse(byte[] data) throws MalformedOptionException {
        OptionDataReader reader = new OptionDataReader(data);
        String name = reader.lengthPrefixedString("export name");
        int count = reader.u16();
        List<Integer> types = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            types.add(reader.u16());
        }
        reader.expectEnd("info request");
        return new InfoRequest(name, List.copyOf(types));
    }

    public boolean asks(NbdInfo info) {
        return infoTypes.contains(info.code());
    }
}
