package org.fleeced.daemon.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.http.HttpServerResponse;
import java.util.LinkedHashMap;
import java.util.Map;
import org.fleeced.block.BlockIOException;
import org.fleeced.daemon.host.ProblemReason;

/**
 * The one mapping of failures to HTTP problem responses (RFC 9457): {@link ApiProblem}s as they
 * are, block-layer errnos by meaning, anything else as a 500 that asks to read the daemon log.
 */
public final class ProblemResponses {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ProblemResponses() {
    }

    /** A block-layer failure by its errno: what the caller can do about it decides the reason. */
    public static ApiProblem fromBlockError(BlockIOException e) {
        String errno = e.errno().name();
        return switch (e.errno()) {
            case ENOSPC -> new ApiProblem(ProblemReason.NO_SPACE, errno, e.getMessage() + ". Free space and retry.");
            case EFBIG -> new ApiProblem(ProblemReason.TOO_LARGE, errno, e.getMessage()
                    + ": larger than the file system or the image format can hold.");
            case EUCLEAN -> new ApiProblem(ProblemReason.IMAGE_INVALID, errno, e.getMessage()
                    + ". The image is damaged or not what its format says; check it with qemu-img check.");
            case EPERM, EROFS, EACCES -> new ApiProblem(ProblemReason.NOT_PERMITTED, errno, e.getMessage());
            case EINVAL, ENOTSUP, EOVERFLOW -> new ApiProblem(ProblemReason.NOT_POSSIBLE, errno, e.getMessage());
            case ESHUTDOWN -> new ApiProblem(ProblemReason.SHUTTING_DOWN, errno,
                    "The daemon is stopping; retry after it restarts.");
            case EIO, ENOMEM -> new ApiProblem(ProblemReason.IO_ERROR, errno,
                    e.getMessage() + ". The image may be damaged; see the daemon log.");
        };
    }

    /** A failure the daemon did not expect (a bug): the caller learns that much, the log the rest. */
    public static ApiProblem unexpected(Throwable t) {
        return new ApiProblem(ProblemReason.INTERNAL_ERROR,
                "Internal error (" + t.getClass().getSimpleName() + "); the daemon log has the details.");
    }

    public static void send(HttpServerResponse response, ApiProblem problem, String instance) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", "about:blank");
        body.put("title", title(problem.status()));
        body.put("status", problem.status());
        body.put("errno", problem.errno());
        body.put("reason", problem.reason().name());
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
