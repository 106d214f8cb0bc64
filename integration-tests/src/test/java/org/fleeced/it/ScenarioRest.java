package org.fleeced.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;

/**
 * The daemon's REST API as a scenario sees it: JSON in, status and JSON out, through the JDK's
 * HTTP client. The typed calls ({@link #attach}, {@link #startJob}, {@link #finish}) assert the
 * status the contract promises and hand back the body.
 */
final class ScenarioRest {
    static final ObjectMapper JSON = new ObjectMapper();

    /** One answer: the status, the raw body and (when it is JSON) the parsed body. */
    record Answer(int status, String raw, JsonNode body) {
        Answer expect(int wanted) {
            if (status != wanted) {
                throw new AssertionError("wanted HTTP " + wanted + ", got " + status + ": " + raw);
            }
            return this;
        }
    }

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final String base;

    ScenarioRest(int port) {
        this.base = "http://127.0.0.1:" + port;
    }

    String base() {
        return base;
    }

    Answer get(String path) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(URI.create(base + path)).GET());
    }

    Answer post(String path, String json) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(URI.create(base + path)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    Answer post(String path, JsonNode json) throws IOException, InterruptedException {
        return post(path, json.toString());
    }

    Answer send(HttpRequest.Builder request) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(request.timeout(Duration.ofSeconds(60)).build(),
                HttpResponse.BodyHandlers.ofString());
        JsonNode body;
        try {
            body = r.body().isEmpty() ? null : JSON.readTree(r.body());
        } catch (IOException notJson) {
            body = null;
        }
        return new Answer(r.statusCode(), r.body(), body);
    }

    /** Creates a qcow2 image of {@code sizeBytes} at {@code path} and attaches it; the disk's body. */
    JsonNode create(String name, String path, long sizeBytes) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode().put("name", name).put("path", path);
        body.putObject("create").put("sizeBytes", sizeBytes);
        return post("/v1/disks", body).expect(201).body();
    }

    /** Attaches an existing image; the disk's body. */
    JsonNode attach(String name, String path) throws IOException, InterruptedException {
        return post("/v1/disks", JSON.createObjectNode().put("name", name).put("path", path)).expect(201).body();
    }

    /** A job request for {@code disks} creating {@code checkpoint}; the caller adds options. */
    static ObjectNode job(String checkpoint, String... disks) {
        ObjectNode body = JSON.createObjectNode().put("checkpoint", checkpoint);
        body.putArray("disks").addAll(List.of(disks).stream().map(JSON.getNodeFactory()::textNode).toList());
        return body;
    }

    JsonNode startJob(ObjectNode request) throws IOException, InterruptedException {
        return post("/v1/jobs", request).expect(201).body();
    }

    JsonNode getJob(String id) throws IOException, InterruptedException {
        return get("/v1/jobs/" + id).expect(200).body();
    }

    JsonNode finish(String id, String outcome) throws IOException, InterruptedException {
        return post("/v1/jobs/" + id + "/finish", "{\"outcome\":\"" + outcome + "\"}").expect(200).body();
    }

    JsonNode bitmaps(String disk) throws IOException, InterruptedException {
        return get("/v1/disks/" + disk + "/bitmaps").expect(200).body();
    }

    boolean healthy() {
        try {
            return get("/health").status() == 200;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }
}
