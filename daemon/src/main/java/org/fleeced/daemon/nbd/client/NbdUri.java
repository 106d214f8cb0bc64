package org.fleeced.daemon.nbd.client;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * An NBD URI as the NBD URI specification writes them: {@code nbd://HOST[:PORT]/EXPORT} and
 * {@code nbd+unix:///EXPORT?socket=PATH}. TLS ({@code nbds}) is not offered by this client.
 */
public record NbdUri(SocketAddress address, String exportName) {
    public static final int DEFAULT_PORT = 10809;

    public static boolean looksLikeOne(String text) {
        return text.startsWith("nbd://") || text.startsWith("nbd+unix://") || text.startsWith("nbds");
    }

    /** The URI as the NBD URI specification writes it (what {@link #parse} reads back). */
    public String text() {
        if (address instanceof UnixDomainSocketAddress unix) {
            return "nbd+unix:///" + exportName + "?socket=" + unix.getPath();
        }
        InetSocketAddress inet = (InetSocketAddress) address;
        return "nbd://" + inet.getHostString() + ":" + inet.getPort() + "/" + exportName;
    }

    public static NbdUri parse(String text) {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("not an NBD URI: " + e.getMessage());
        }
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        String export = URLDecoder.decode(path.startsWith("/") ? path.substring(1) : path, StandardCharsets.UTF_8);
        switch (String.valueOf(uri.getScheme())) {
            case "nbd" -> {
                if (uri.getHost() == null) {
                    throw new IllegalArgumentException("an nbd:// URI needs a host: " + text);
                }
                int port = uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort();
                return new NbdUri(new InetSocketAddress(uri.getHost(), port), export);
            }
            case "nbd+unix" -> {
                String query = uri.getRawQuery() == null ? "" : uri.getRawQuery();
                for (String pair : query.split("&")) {
                    if (pair.startsWith("socket=")) {
                        String socket = URLDecoder.decode(pair.substring(7), StandardCharsets.UTF_8);
                        return new NbdUri(UnixDomainSocketAddress.of(socket), export);
                    }
                }
                throw new IllegalArgumentException("an nbd+unix URI needs ?socket=PATH: " + text);
            }
            default -> throw new IllegalArgumentException("only nbd:// and nbd+unix:// URIs are read (no TLS): " + text);
        }
    }
}
