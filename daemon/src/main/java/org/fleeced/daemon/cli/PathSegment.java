package org.fleeced.daemon.cli;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/** A name put into a URL path: percent-encoded, so a name cannot reach another path. */
final class PathSegment {
    private PathSegment() {
    }

    static String of(String name) {
        return URLEncoder.encode(name, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
