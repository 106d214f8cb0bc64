package org.fleeced.daemon.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * The daemon's REST API as the client commands use it: JSON in and out, and every problem answer
 * turned into a {@link CliFailure} carrying the problem's {@code detail} as its one line.
 */
final class DaemonClient {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CONNECT = Duration.ofSeconds(10);
    private static final Duration REQUEST = Duration.ofMinutes(10);

    private final URI base;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(CONNECT).build();

    DaemonClient(URI base, String token) {
        this.base = base;
        this.token = token;
    }

    JsonNode get(String path) throws CliFailure {
        return send(request(path).GET());
    }

    JsonNode post(String path, Object body) throws CliFailure {
        String json;
        try {
            json = JSON.writeValueAsString(body);
        } catch (IOException e) {
            throw new IllegalArgumentException("not plain data: " + body, e);
        }
        return send(request(path).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)));
    }

    /** DELETE; null when the daemon answers without a body (204). */
    JsonNode delete(String path) throws CliFailure {
        return send(request(path).DELETE());
    }

    /**
     * Follows the server-sent events of {@code path} until the daemon closes the stream: each
     * event as {type, id, data}.
     */
    void follow(String path, Consumer<Event> each) throws CliFailure {
        HttpResponse<InputStream> response = exchange(request(path).timeout(Duration.ofDays(3650)).GET(),
                HttpResponse.BodyHandlers.ofInputStream());
        if (response.statusCode() != 200) {
            try (InputStream body = response.body()) {
                throw problem(response.statusCode(), new String(body.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new CliFailure(ExitStatus.FAILED, "GET " + path + ": " + response.statusCode());
            }
        }
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            String type = "message";
            String id = null;
            StringBuilder data = new StringBuilder();
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                if (line.isEmpty()) {
                    if (!data.isEmpty()) {
                        each.accept(new Event(type, id, JSON.readTree(data.toString())));
                    }
                    type = "message";
                    id = null;
                    data.setLength(0);
                } else if (line.startsWith("event:")) {
                    type = line.substring(6).trim();
                } else if (line.startsWith("id:")) {
                    id = line.substring(3).trim();
                } else if (line.startsWith("data:")) {
                    data.append(line.substring(5).trim());
                }
            }
        } catch (IOException e) {
            throw new CliFailure(ExitStatus.UNREACHABLE, "the event stream of " + base + " broke: " + e.getMessage());
        }
    }

    /** One server-sent event. */
    record Event(String type, String id, JsonNode data) {
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(REQUEST)
                .header("accept", "application/json, application/problem+json, text/event-stream");
        if (token != null) {
            b.header("authorization", "Bearer " + token);
        }
        return b;
    }

    private JsonNode send(HttpRequest.Builder b) throws CliFailure {
        HttpResponse<String> response = exchange(b, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() >= 400) {
            throw problem(response.statusCode(), response.body());
        }
        if (response.body() == null || response.body().isBlank()) {
            return null;
        }
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new CliFailure(ExitStatus.FAILED, "the daemon answered something that is not JSON: " + e.getMessage());
        }
    }

    private <T> HttpResponse<T> exchange(HttpRequest.Builder b, HttpResponse.BodyHandler<T> handler) throws CliFailure {
        try {
            return http.send(b.build(), handler);
        } catch (ConnectException e) {
            throw new CliFailure(ExitStatus.UNREACHABLE, "no daemon answers at " + base
                    + " (is it running? see --url)");
        } catch (HttpTimeoutException e) {
            throw new CliFailure(ExitStatus.UNREACHABLE, "the daemon at " + base + " did not answer in time");
        } catch (IOException e) {
            throw new CliFailure(ExitStatus.UNREACHABLE, "cannot talk to the daemon at " + base + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CliFailure(ExitStatus.FAILED, "interrupted");
        }
    }

    /** The problem's detail (RFC 9457), or the status line when the body is not a problem. */
    private static CliFailure problem(int status, String body) {
        try {
            JsonNode p = JSON.readTree(body);
            if (p != null && p.hasNonNull("detail")) {
                String reason = p.path("reason").asText("");
                return new CliFailure(ExitStatus.ofHttp(status), p.get("detail").asText()
                        + (reason.isEmpty() ? "" : " [" + reason + "]"));
            }
        } catch (IOException e) {
            // not JSON: the status says enough
        }
        return new CliFailure(ExitStatus.ofHttp(status), "the daemon answered " + status);
    }
}
