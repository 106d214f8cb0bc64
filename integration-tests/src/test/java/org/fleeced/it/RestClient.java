package org.fleeced.it;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/**
 * The daemon's REST API as a backup program sees it: plain HTTP with an optional bearer token,
 * JSON bodies. Answers are {@link Reply}s whatever their status, so tests assert on refusals as
 * readily as on successes.
 */
final class RestClient {
    static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final URI base;
    private final String token;

    RestClient(URI base, String token) {
        this.base = base;
        this.token = token;
    }

    /** The same daemon, with another token (null: none at all). */
    RestClient withToken(String other) {
        return new RestClient(base, other);
    }

    URI base() {
        return base;
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

    /** Sends a request the caller built (an event stream, a method the API lacks). */
    HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    HttpClient http() {
        return http;
    }

    private Reply send(HttpRequest.Builder b) throws IOException, InterruptedException {
        HttpRequest request = b.build();
        HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
        return new Reply(request.method() + " " + request.uri().getRawPath(), r.statusCode(),
                r.headers().firstValue("content-type").orElse(""), r.headers().map(), r.body());
    }

    /** One answer: what was asked, the status, the content type, the body as text. */
    record Reply(String call, int status, String contentType, Map<String, java.util.List<String>> headers,
            String body) {
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

        @Override
        public String toString() {
            return call + " -> " + status + " " + contentType + " " + body;
        }
    }
}
