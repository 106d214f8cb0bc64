package org.fleeced.daemon.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.http.HttpServerResponse;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fleeced.block.BlockIOException;

/**
 * The one mapping of failures to HTTP problem responses (RFC 9457): {@link ApiProblem}s as they
 * are, block-layer errnos by meaning, anything else as a 500 that asks to read the daemon log.
 */
public final class ProblemResponses {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ProblemResponses() {
    }

    public static ApiProblem fromBlockError(BlockIOException e) {
        return switch (e.errno()) {
            case ENOSPC -> new ApiProblem(507, "ENOSPC", "NO_SPACE", e.getMessage() + ". Free space and retry.");
            case EPERM, EROFS, EACCES -> new ApiProblem(403, e.errno().name(), "NOT_PERMITTED", e.getMessage());
            case EINVAL, ENOTSUP, EOVERFLOW -> new ApiProblem(422, e.errno().name(), "NOT_POSSIBLE", e.getMessage());
            case ESHUTDOWN -> new ApiProblem(503, "ESHUTDOWN", "SHUTTING_DOWN", "The daemon is stopping; retry after it restarts.");
            case EIO, ENOMEM -> new ApiProblem(500, e.errno().name(), "IO_ERROR",
                    e.getMessage() + ". The image may be damaged; see the daemon log.");
        };
    }

    public static ApiProblem unexpected(Throwable t) {
        return new ApiProblem(500, "EIO", "INTERNAL_ERROR",
                "Internal error (" + t.getClass().getSimpleName() + "); the daemon log has the details.");
    }

    public static void send(HttpServerResponse response, ApiProblem problem, String instance) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", "about:blank");
        body.put("title", title(problem.status()));
        body.put("status", problem.status());
        body.put("errno", problem.errno());
        body.put("reason", problem.reason());
        body.put("detail", problem.detail());
        if (instance != null) {
            body.put("instance", instance);
        }
        String json;
        try {
            json = JSON.writeValueAsString(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("a problem body is plain data", e);
        }
        if (response.ended()) {
            return;
        }
        response.setStatusCode(problem.status())
                .putHeader("content-type", "application/problem+json")
                .end(json);
    }

    private static String title(int status) {
        return switch (status) {
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 409 -> "Conflict";
            case 413 -> "Content Too Large";
            case 415 -> "Unsupported Media Type";
            case 422 -> "Unprocessable Content";
            case 503 -> "Service Unavailable";
            case 507 -> "Insufficient Storage";
            default -> "Internal Server Error";
        };
    }
}
