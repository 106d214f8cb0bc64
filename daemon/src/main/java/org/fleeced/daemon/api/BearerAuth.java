package org.fleeced.daemon.api;

import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Set;
import org.fleeced.daemon.host.ProblemReason;

/**
 * Checks {@code Authorization: Bearer TOKEN} against the configured tokens, in constant time.
 * With no tokens configured every request passes (the daemon refuses to start that way on a
 * non-loopback address). Paths in {@code open} need no token.
 */
final class BearerAuth implements Handler<RoutingContext> {
    private final List<byte[]> tokens;
    private final Set<String> open;

    BearerAuth(List<String> tokens, Set<String> open) {
        this.tokens = tokens.stream().map(t -> t.getBytes(StandardCharsets.UTF_8)).toList();
        this.open = open;
    }

    @Override
    public void handle(RoutingContext ctx) {
        if (tokens.isEmpty() || open.contains(ctx.normalizedPath())) {
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader("Authorization");
        if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) && known(header.substring(7).trim())) {
            ctx.next();
            return;
        }
        ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"fleeced\"");
        ProblemResponses.send(ctx.response(), new ApiProblem(
                header == null ? ProblemReason.TOKEN_REQUIRED : ProblemReason.TOKEN_INVALID,
                "Send 'Authorization: Bearer TOKEN' with a token from the daemon's configuration."), ctx.normalizedPath());
    }

    private boolean known(String presented) {
        byte[] bytes = presented.getBytes(StandardCharsets.UTF_8);
        boolean match = false;
        for (byte[] token : tokens) {
            match |= MessageDigest.isEqual(token, bytes);
        }
        return match;
    }
}
