package org.fleeced.daemon.host;

import java.util.Map;

/** Where the daemon reports job and disk events (the REST event stream, in production). */
@FunctionalInterface
public interface Events {
    void publish(String type, Map<String, ?> data);
}
