package org.fleeced.daemon.host;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Where the NBD server listens, and the URIs a client uses to reach an export there. */
public record NbdEndpoints(String host, int port, Path socket, boolean tls) {

    public String tcpUri(String export) {
        String h = host.contains(":") ? "[" + host + "]" : host;
        return (tls ? "nbds" : "nbd") + "://" + h + ":" + port + "/" + encode(export);
    }

    /** The Unix-socket URI, or null when the server has no socket. */
    public String unixUri(String export) {
        return socket == null ? null : (tls ? "nbds+unix" : "nbd+unix") + ":///" + encode(export) + "?socket=" + socket;
    }

    private static String encode(String export) {
        return URLEncoder.encode(export, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
