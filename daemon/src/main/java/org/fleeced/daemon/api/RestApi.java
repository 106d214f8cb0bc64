package org.fleeced.daemon.api;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.handler.HttpException;
import io.vertx.ext.web.openapi.router.OpenAPIRoute;
import io.vertx.ext.web.openapi.router.RequestExtractor;
import io.vertx.ext.web.openapi.router.RouterBuilder;
import io.vertx.openapi.validation.SchemaValidationException;
import io.vertx.openapi.validation.ValidatorException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.fleeced.block.BlockIOException;
import org.fleeced.daemon.host.HostRefusal;
import org.fleeced.daemon.host.ProblemReason;

/**
 * Builds the HTTP router from the contract: every route, path and validation rule comes from
 * {@code openapi.yaml}; Java only binds handlers by operationId. Building fails when an
 * operation of the spec has no handler or a handler names no operation, so code and contract
 * cannot drift apart.
 */
public final class RestApi {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.rest");

    private RestApi() {
    }

    /**
     * @param operations handlers that answer JSON, by operationId
     * @param streams    handlers that write their own response (metrics text, event streams)
     */
    public static Router router(Vertx vertx, ApiContract contract, Map<String, ApiOperation> operations,
            Map<String, Handler<RoutingContext>> streams, List<String> tokens, long maxBodyBytes) {
        checkBindings(contract.operationIds(), operations.keySet(), streams.keySet());
        RouterBuilder builder = RouterBuilder.create(vertx, contract.forVertx(vertx), RequestExtractor.withBodyHandler());
        // Vert.x orders root handlers by kind: the body handler must precede user handlers such as auth
        builder.rootHandler(BodyHandler.create(false).setBodyLimit(maxBodyBytes));
        builder.rootHandler(new BearerAuth(tokens, contract.openPaths()));
        for (OpenAPIRoute route : builder.getRoutes()) {
            String id = route.getOperation().getOperationId();
            ApiOperation op = operations.get(id);
            route.addHandler(op != null ? ctx -> runOnVirtualThread(id, op, ctx) : streams.get(id));
        }
        Router router = builder.createRouter();
        router.errorHandler(400, RestApi::badRequest);
        router.errorHandler(404, ctx -> ProblemResponses.send(ctx.response(), new ApiProblem(ProblemReason.NO_SUCH_PATH,
                "No operation at " + ctx.request().method() + " " + ctx.normalizedPath()
                        + "; the API is described in openapi.yaml."), ctx.normalizedPath()));
        router.errorHandler(405, ctx -> ProblemResponses.send(ctx.response(), new ApiProblem(ProblemReason.METHOD_NOT_ALLOWED, ctx.request().method() + " is not allowed on " + ctx.normalizedPath() + "."),
                ctx.normalizedPath()));
        router.errorHandler(413, ctx -> ProblemResponses.send(ctx.response(), new ApiProblem(ProblemReason.BODY_TOO_LARGE, "Request bodies are limited to " + maxBodyBytes + " bytes."), ctx.normalizedPath()));
        router.errorHandler(500, ctx -> {
            LOG.log(Level.WARNING, "REST " + ctx.normalizedPath() + " failed", ctx.failure());
            ProblemResponses.send(ctx.response(), ProblemResponses.unexpected(ctx.failure()), ctx.normalizedPath());
        });
        return router;
    }

    static void checkBindings(Set<String> specified, Set<String> operations, Set<String> streams) {
        Set<String> bound = new TreeSet<>(operations);
        bound.addAll(streams);
        Set<String> unbound = new TreeSet<>(specified);
        unbound.removeAll(bound);
        Set<String> unknown = new TreeSet<>(bound);
        unknown.removeAll(specified);
        if (!unbound.isEmpty() || !unknown.isEmpty()) {
            throw new IllegalStateException("REST handlers and openapi.yaml disagree: operations without a handler "
                    + unbound + ", handlers without an operation " + unknown);
        }
    }

    private static void runOnVirtualThread(String id, ApiOperation op, RoutingContext ctx) {
        Thread.ofVirtual().name("rest-" + id).start(() -> {
            try {
                ApiResponse answer = op.handle(new ApiRequest(ctx));
                if (answer.body() == null) {
                    ctx.response().setStatusCode(answer.status()).end();
                } else {
                    ctx.response().setStatusCode(answer.status())
                            .putHeader("content-type", "application/json")
                            .end(ApiRequest.JSON.writeValueAsString(answer.body()));
                }
            } catch (ApiProblem p) {
                ProblemResponses.send(ctx.response(), p, ctx.normalizedPath());
            } catch (HostRefusal r) {
                ProblemResponses.send(ctx.response(), ApiProblem.of(r), ctx.normalizedPath());
            } catch (BlockIOException e) {
                LOG.warning("REST " + id + ": " + e);
                ProblemResponses.send(ctx.response(), ProblemResponses.fromBlockError(e), ctx.normalizedPath());
            } catch (Exception | Error e) {
                LOG.log(Level.WARNING, "REST " + id + " failed unexpectedly", e);
                ProblemResponses.send(ctx.response(), ProblemResponses.unexpected(e), ctx.normalizedPath());
            }
        });
    }

    private static void badRequest(RoutingContext ctx) {
        Throwable failure = ctx.failure();
        // the OpenAPI router wraps the validator's finding in an HttpException whose message is only "Bad Request"
        if (failure instanceof HttpException && failure.getCause() != null) {
            failure = failure.getCause();
        }
        String detail = failure instanceof SchemaValidationException s ? SchemaFinding.describe(s)
                : failure instanceof ValidatorException v ? v.getMessage()
                : failure != null && failure.getMessage() != null ? failure.getMessage() : "malformed request";
        ProblemResponses.send(ctx.response(), new ApiProblem(ProblemReason.INVALID_REQUEST,
                detail + ". The request must match openapi.yaml; fix it and retry."), ctx.normalizedPath());
    }
}
