package org.fleeced.daemon.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.ext.web.RoutingContext;
import org.fleeced.daemon.host.ProblemReason;

/** What an operation handler sees of a request that already passed the contract's validation. */
public final class ApiRequest {
    static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);

    private final RoutingContext ctx;

    ApiRequest(RoutingContext ctx) {
        this.ctx = ctx;
    }

    public String path(String name) {
        return ctx.pathParam(name);
    }

    /** A query parameter, or null. */
    public String query(String name) {
        return ctx.queryParams().get(name);
    }

    /**
     * Runs {@code action} once the client's connection closes before the answer was sent (a
     * long-running request whose caller gave up), or at once when it already has.
     */
    public void onClientGone(Runnable action) {
        ctx.response().closeHandler(v -> action.run());
        if (ctx.response().closed()) {
            action.run();
        }
    }

    /** The JSON body as a DTO record; an absent body gives {@code fallback}. */
    public <T> T body(Class<T> type, T fallback) throws ApiProblem {
        String text = ctx.body() == null ? null : ctx.body().asString();
        if (text == null || text.isBlank()) {
            return fallback;
        }
        try {
            return JSON.readValue(text, type);
        } catch (JsonProcessingException e) {
            throw new ApiProblem(ProblemReason.INVALID_REQUEST, "body: " + e.getOriginalMessage() + ". Fix the request and retry.");
        }
    }

    public <T> T body(Class<T> type) throws ApiProblem {
        T value = body(type, null);
        if (value == null) {
            throw new ApiProblem(ProblemReason.INVALID_REQUEST, "body: a JSON object is required.");
        }
        return value;
    }
}
