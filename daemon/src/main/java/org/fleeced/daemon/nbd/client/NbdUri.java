package org.fleeced.daemon.nbd.client;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * An NBD URI as the NBD URI specification writes them: {@code nbd://HOST[:PORT]/EXPORT},
 * {@code nbds://HOST[:PORT]/EXPORT} (TLS: the session upgrades with NBD_OPT_STARTTLS and the
 * server's certificate must name HOST) and {@code nbd+unix:///EXPORT?socket=PATH}. TLS over a
 * Unix socket ({@code nbds+unix}) is refused: there is no host name to check the certificate
 * against.
 *
 * @param tls whether the session must be TLS ({@code nbds}); never downgraded to plain text
 */
public record NbdUri(SocketAddress address, String exportName, boolean tls) {
    public static final int DEFAULT_PORT = 10809;

    /** The host name the server's certificate must carry: the URI's host. */
    public String host() {
        return address instanceof InetSocketAddress inet ? inet.getHostString() : null;
    }

    public static boolean looksLikeOne(String text) {
        return text.startsWith("nbd://") || text.startsWith("nbd+unix://") || text.startsWith("nbds");
    }

    /** The URI as the NBD URI specification writes it (what {@link #parse} reads back). */
    public String text() {
        if (address instanceof UnixDomainSocketAddress unix) {
            return "nbd+unix:///" + exportName + "?socket=" + unix.getPath();
        }
        InetSocketAddress inet = (InetSocketAddress) address;
        return (tls ? "nbds://" : "nbd://") + inet.getHostString() + ":" + inet.getPort() + "/" + exportName;
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
            case "nbd", "nbds" -> {
                if (uri.getHost() == null) {
                    throw new IllegalArgumentException("an " + uri.getScheme() + ":// URI needs a host: " + text);
                }
                int port = uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort();
                return new NbdUri(InetSocketAddress.createUnresolved(uri.getHost(), port), export,
                        uri.getScheme().equals("nbds"));
            }
            case "nbds+unix" -> throw new IllegalArgumentException("nbds+unix:// is not offered (a Unix socket has no"
                    + " host name to check the server's certificate against); use nbd+unix:// or nbds://HOST: " + text);
            case "nbd+unix" -> {
                String query = uri.getRawQuery() == null ? "" : uri.getRawQuery();
                for (String pair : query.split("&")) {
                    if (pair.startsWith("socket=")) {
                        String socket = URLDecoder.decode(pair.substring(7), StandardCharsets.UTF_8);
                        return new NbdUri(UnixDomainSocketAddress.of(socket), export, false);
                    }
                }
                throw new IllegalArgumentException("an nbd+unix URI needs ?socket=PATH: " + text);
            }
            default -> throw new IllegalArgumentException("only nbd://, nbds:// and nbd+unix:// URIs are read: " + text);
        }
    }
}
