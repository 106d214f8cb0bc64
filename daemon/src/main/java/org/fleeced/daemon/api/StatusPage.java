package org.fleeced.daemon.api;

import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * {@code GET /}: the status page, one self-contained HTML file in the jar ({@code status.html}
 * beside this class: no external resources, no build step). It reads the public API from the
 * browser, so it needs no token itself; its calls send the token the user gives it.
 */
final class StatusPage {
    private static final Buffer PAGE = load();

    private StatusPage() {
    }

    static void serve(RoutingContext ctx) {
        ctx.response().putHeader("content-type", "text/html; charset=utf-8")
                .putHeader("cache-control", "no-cache")
                // the page runs only its own inline script and talks only to this origin
                .putHeader("content-security-policy", "default-src 'none'; script-src 'unsafe-inline'; "
                        + "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:")
                .end(PAGE);
    }

    private static Buffer load() {
        try (InputStream in = StatusPage.class.getResourceAsStream("status.html")) {
            if (in == null) {
                throw new IllegalStateException("status.html is missing from the jar");
            }
            return Buffer.buffer(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
