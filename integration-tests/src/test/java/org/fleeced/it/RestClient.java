package org.fleeced.it;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The daemon's REST API as a backup program sees it: plain HTTP with a bearer token, JSON bodies.
 * Every call answers a {@link Reply} whatever its status, so tests assert on refusals as readily as
 * on successes; the typed calls ({@link #startJob}, {@link #finish}...) expect the status the
 * contract promises and hand back the body. The client follows its daemon across restarts: the
 * address is looked up on every call.
 */
final class RestClient {
    static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final Supplier<URI> base;
    private final String token;

    RestClient(Supplier<URI> base, String token) {
        this.base = base;
        this.token = token;
    }

    /** The same daemon, with another token (null: none at all). */
    RestClient withToken(String other) {
        return new RestClient(base, other);
    }

    /** {@code http://HOST:PORT}, without a trailing slash. */
    String base() {
        return base.get().toString();
    }

    Reply get(String path) throws IOException, InterruptedException {
        return send(request(path).GET());
    }

    Reply delete(String path) throws IOException, InterruptedException {
        return send(request(path).DELETE());
    }

    /** POSTs {@code body}: a String is sent as it is (so tests can send malformed JSON), anything else as JSON. */
    Reply post(String path, Object body) throws IOException, InterruptedException {
        String text = body instanceof String s ? s : body == null ? "" : JSON.writeValueAsString(body);
        return send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(text)));
    }

    /** PATCHes {@code body} as JSON. */
    Reply patch(String path, Object body) throws IOException, InterruptedException {
        return send(request(path).header("Content-Type", "application/json")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))));
    }

    /**
     * A request to {@code path} with the token, for the caller to finish (an event stream, an odd
     * content type). The path is appended as written, so {@code ..} and escapes reach the daemon.
     */
    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base() + (path.startsWith("/") ? "" : "/") + path))
                .timeout(Duration.ofSeconds(60));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    HttpClient http() {
        return http;
    }

    Reply send(HttpRequest.Builder b) throws IOException, InterruptedException {
        HttpRequest request = b.build();
        HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
        return new Reply(request.method() + " " + request.uri().getRawPath(), r.statusCode(),
                r.headers().firstValue("content-type").orElse(""), r.headers().map(), r.body());
    }

    /** Creates a qcow2 image of {@code sizeBytes} at {@code image} through the API and attaches it; the disk. */
    JsonNode createDisk(String name, Path image, long sizeBytes) throws IOException, InterruptedException {
        Map<String, Object> request = Map.of("name", name, "path", image.toString(),
                "create", Map.of("sizeBytes", sizeBytes));
        return post("v1/disks", request).expect(201).json();
    }

    /** Attaches an existing image in {@code format} (never guessed by the daemon); the disk. */
    JsonNode attach(String name, Path image, String format) throws IOException, InterruptedException {
        return post("v1/disks", Map.of("name", name, "path", image.toString(), "format", format)).expect(201).json();
    }

    JsonNode disk(String name) throws IOException, InterruptedException {
        return get("v1/disks/" + name).expect(200).json();
    }

    JsonNode bitmaps(String disk) throws IOException, InterruptedException {
        return get("v1/disks/" + disk + "/bitmaps").expect(200).json();
    }

    /** What an incremental from {@code base} would read. */
    JsonNode plan(String disk, String base) throws IOException, InterruptedException {
        return get("v1/disks/" + disk + "/plan?base=" + base).expect(200).json();
    }

    /** A job request for {@code disks} creating {@code checkpoint}; the caller puts options in. */
    static ObjectNode jobRequest(String checkpoint, String... disks) {
        ObjectNode body = JSON.createObjectNode().put("checkpoint", checkpoint);
        body.putArray("disks").addAll(List.of(disks).stream().map(JSON.getNodeFactory()::textNode).toList());
        return body;
    }

    /** Starts a job (201 expected); the job. */
    JsonNode startJob(ObjectNode request) throws IOException, InterruptedException {
        return post("v1/jobs", request).expect(201).json();
    }

    JsonNode job(String id) throws IOException, InterruptedException {
        return get("v1/jobs/" + id).expect(200).json();
    }

    /** Finishes a job with {@code outcome} (200 expected); the job. */
    JsonNode finish(String id, String outcome) throws IOException, InterruptedException {
        return post("v1/jobs/" + id + "/finish", Map.of("outcome", outcome)).expect(200).json();
    }

    /** The value of one sample of {@code /metrics}, named with its labels as exposed. */
    double metric(String sample) throws IOException, InterruptedException {
        for (String line : get("metrics").expect(200).body().split("\n")) {
            if (line.startsWith(sample + " ")) {
                return Double.parseDouble(line.substring(sample.length() + 1).trim());
            }
        }
        throw new AssertionError("no " + sample + " in /metrics");
    }

    /** How many NBD connections the daemon has open now. */
    long openNbdConnections() throws IOException, InterruptedException {
        return (long) metric("fleeced_nbd_connections");
    }

    boolean healthy() {
        try {
            return get("health").status() == 200;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** One answer: what was asked, the status, the content type, the headers, the body as text. */
    record Reply(String call, int status, String contentType, Map<String, List<String>> headers, String body) {
        JsonNode json() {
            try {
                return JSON.readTree(body);
            } catch (JsonProcessingException e) {
                throw new UncheckedIOException(new IOException(call + " answered no JSON: " + body, e));
            }
        }

        /** This reply, after checking it has {@code expected} status; the message shows the body. */
        Reply expect(int expected) {
            if (status != expected) {
                throw new AssertionError(call + ": expected " + expected + ", got " + status + " " + body);
            }
            return this;
        }

        /** The RFC 9457 problem this reply carries; an assertion error when it carries none. */
        Problem problem() {
            JsonNode p;
            try {
                p = JSON.readTree(body);
            } catch (JsonProcessingException e) {
                throw new AssertionError("not a problem body: " + this, e);
            }
            if (p == null || !p.hasNonNull("errno") || !p.hasNonNull("reason") || !p.hasNonNull("detail")) {
                throw new AssertionError("not a problem body: " + this);
            }
            return new Problem(p.path("status").asInt(), p.path("title").asText(), p.get("errno").asText(),
                    p.get("reason").asText(), p.get("detail").asText());
        }

        @Override
        public String toString() {
            return call + " -> " + status + " " + contentType + " " + body;
        }
    }

    /** A problem body: the status it repeats, its title, and the errno, reason code and detail fleeced adds. */
    record Problem(int status, String title, String errno, String reason, String detail) {
    }
}
