package org.fleeced.daemon.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.openapi.contract.OpenAPIContract;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The REST contract, {@code api-spec}'s {@code org/fleeced/api/openapi.yaml}, loaded for the
 * Vert.x OpenAPI router.
 *
 * <p>Vert.x 5.0 refuses a contract whose <em>responses</em> use media types it cannot validate
 * ({@code application/problem+json}, {@code text/event-stream}, {@code text/html}), although the router validates
 * only requests. The spec keeps the true media types for readers and client generators; the copy
 * handed to Vert.x names them by the JSON and text types whose validation rules they share.
 *
 * <p>Likewise its router accepts a bearer scheme only as JWT, while fleeced's tokens are opaque
 * strings from the configuration: the copy drops the security requirements, and
 * {@link BearerAuth} enforces exactly what the spec's {@code security} sections say.
 */
public final class ApiContract {
    public static final String RESOURCE = "/org/fleeced/api/openapi.yaml";
    private static final Map<String, String> RESPONSE_TYPES_FOR_VERTX = Map.of(
            "application/problem+json", "application/json",
            "text/event-stream", "text/plain",
            "text/html", "text/plain");

    private final JsonObject raw;

    private ApiContract(JsonObject raw) {
        this.raw = raw;
    }

    public static ApiContract load() {
        try (InputStream in = ApiContract.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("the REST contract " + RESOURCE + " is not on the class path");
            }
            Map<?, ?> tree = new ObjectMapper(new YAMLFactory()).readValue(in, Map.class);
            return new ApiContract(new JsonObject(new ObjectMapper().writeValueAsString(tree)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the REST contract " + RESOURCE, e);
        }
    }

    /** The paths whose operations need no token (an empty {@code security} list in the spec). */
    public Set<String> openPaths() {
        Set<String> open = new TreeSet<>();
        JsonObject paths = raw.getJsonObject("paths");
        for (String path : paths.fieldNames()) {
            JsonObject item = paths.getJsonObject(path);
            for (String key : item.fieldNames()) {
                if (item.getValue(key) instanceof JsonObject operation
                        && operation.getJsonArray("security") != null && operation.getJsonArray("security").isEmpty()) {
                    open.add(path);
                }
            }
        }
        return open;
    }

    /** The operationIds of every operation in the spec. */
    public Set<String> operationIds() {
        Set<String> ids = new TreeSet<>();
        JsonObject paths = raw.getJsonObject("paths");
        for (String path : paths.fieldNames()) {
            JsonObject item = paths.getJsonObject(path);
            for (String key : item.fieldNames()) {
                Object op = item.getValue(key);
                if (op instanceof JsonObject operation && operation.containsKey("operationId")) {
                    ids.add(operation.getString("operationId"));
                }
            }
        }
        return ids;
    }

    /** The codes {@code Problem.reason} lists as its enum, in the spec's order. */
    public List<String> problemReasons() {
        return problemReason().getJsonArray("enum").stream().map(String::valueOf).toList();
    }

    /** The description of {@code Problem.reason}: a sentence per code. */
    public String problemReasonDescription() {
        return problemReason().getString("description");
    }

    private JsonObject problemReason() {
        return raw.getJsonObject("components").getJsonObject("schemas").getJsonObject("Problem")
                .getJsonObject("properties").getJsonObject("reason");
    }

    /** The contract as the Vert.x router can take it (see the class comment). */
    public OpenAPIContract forVertx(Vertx vertx) {
        JsonObject copy = raw.copy();
        copy.remove("security");
        copy.getJsonObject("components").remove("securitySchemes");
        JsonObject paths = copy.getJsonObject("paths");
        for (String path : paths.fieldNames()) {
            JsonObject item = paths.getJsonObject(path);
            for (String key : item.fieldNames()) {
                if (item.getValue(key) instanceof JsonObject operation && operation.containsKey("responses")) {
                    operation.remove("security");
                    renameResponseTypes(operation.getJsonObject("responses"));
                }
            }
        }
        renameResponseTypes(copy.getJsonObject("components").getJsonObject("responses"));
        return OpenAPIContract.from(vertx, copy).await();
    }

    private static void renameResponseTypes(JsonObject responses) {
        for (String code : responses.fieldNames()) {
            JsonObject response = responses.getJsonObject(code);
            JsonObject content = response.getJsonObject("content");
            if (content == null) {
                continue;
            }
            for (Map.Entry<String, String> rename : RESPONSE_TYPES_FOR_VERTX.entrySet()) {
                Object media = content.remove(rename.getKey());
                if (media != null) {
                    content.put(rename.getValue(), media);
                }
            }
        }
    }
}
