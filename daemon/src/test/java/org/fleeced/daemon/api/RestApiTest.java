package org.fleeced.daemon.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.RoutingContext;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.fleeced.daemon.host.ProblemReason;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RestApiTest {
    private final Vertx vertx = Vertx.vertx();
    private final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void close() {
        vertx.close().await();
    }

    @Test
    void theContractLoadsAndNamesEveryOperation() {
        ApiContract contract = ApiContract.load();
        assertTrue(contract.operationIds().containsAll(Set.of("getHealth", "startJob", "finishJob", "attachDisk")),
                contract.operationIds().toString());
        contract.forVertx(vertx);
    }

    @Test
    void bindingsThatDisagreeWithTheSpecAreRefusedByName() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> RestApi.checkBindings(Set.of("a", "b"), Set.of("a", "c"), Set.of()));
        assertTrue(e.getMessage().contains("without a handler [b]"), e.getMessage());
        assertTrue(e.getMessage().contains("without an operation [c]"), e.getMessage());
    }

    @Test
    void requestsAreValidatedAuthenticatedAndAnsweredWithProblems() throws Exception {
        ApiContract contract = ApiContract.load();
        Map<String, ApiOperation> ops = new HashMap<>();
        for (String id : contract.operationIds()) {
            ops.put(id, req -> {
                throw new ApiProblem(ProblemReason.DISK_UNKNOWN, "No disk.");
            });
        }
        ops.put("getHealth", req -> ApiResponse.ok(Map.of("status", "ok")));
        ops.put("startJob", req -> ApiResponse.created(Map.of("id", "j1")));
        Map<String, Handler<RoutingContext>> streams = Map.of();
        HttpServer server = vertx.createHttpServer()
                .requestHandler(RestApi.router(vertx, contract, ops, streams, List.of("s3cret"), 4096))
                .listen(0, "127.0.0.1").await();
        String base = "http://127.0.0.1:" + server.actualPort();

        assertEquals(200, get(base + "/health", null).statusCode());
        HttpResponse<String> noToken = get(base + "/v1/disks", null);
        assertEquals(401, noToken.statusCode());
        assertTrue(noToken.body().contains("TOKEN_REQUIRED"), noToken.body());
        assertEquals(401, get(base + "/v1/disks", "wrong").statusCode());

        HttpResponse<String> missing = get(base + "/v1/disks/vm9", "s3cret");
        assertEquals(404, missing.statusCode());
        assertEquals("application/problem+json", missing.headers().firstValue("content-type").orElse(""));
        assertTrue(missing.body().contains("\"reason\":\"DISK_UNKNOWN\""), missing.body());

        HttpResponse<String> bad = post(base + "/v1/jobs", "{\"disks\":[\"vm1\"]}");
        assertEquals(400, bad.statusCode(), bad.body());
        assertTrue(bad.body().contains("INVALID_REQUEST"), bad.body());
        assertEquals(400, post(base + "/v1/jobs", "{\"disks\":\"vm1\",\"checkpoint\":\"c1\"}").statusCode());
        assertEquals(400, post(base + "/v1/jobs", "{not json").statusCode());
        assertEquals(400, post(base + "/v1/jobs", "{\"disks\":[\"vm1\"],\"checkpoint\":\"c1\",\"x\":1}").statusCode());
        assertEquals(201, post(base + "/v1/jobs", "{\"disks\":[\"vm1\"],\"checkpoint\":\"c1\"}").statusCode());

        HttpResponse<String> huge = post(base + "/v1/jobs", "{\"disks\":[\"" + "a".repeat(10000) + "\"]}");
        assertEquals(413, huge.statusCode(), huge.body());
        assertEquals(404, get(base + "/v1/nothing", "s3cret").statusCode());
    }

    /**
     * A schema error names the property (as a JSON pointer into the body) and the rule it broke,
     * also inside a nested object, where the validator itself reports the outer property as not
     * matching "additional properties".
     */
    @Test
    void schemaErrorsNameThePropertyAndTheRuleThatFailed() throws Exception {
        ApiContract contract = ApiContract.load();
        Map<String, ApiOperation> ops = new HashMap<>();
        for (String id : contract.operationIds()) {
            ops.put(id, req -> ApiResponse.ok(Map.of()));
        }
        HttpServer server = vertx.createHttpServer()
                .requestHandler(RestApi.router(vertx, contract, ops, Map.of(), List.of("s3cret"), 4096))
                .listen(0, "127.0.0.1").await();
        String base = "http://127.0.0.1:" + server.actualPort();
        String[][] rows = {
            // path, body, what the detail must name
            {"/v1/jobs", "{\"disks\":[\"vm1\"],\"checkpoint\":\"c1\",\"leaseSeconds\":\"x\"}", "/leaseSeconds", "type"},
            {"/v1/jobs", "{\"disks\":[\"vm1\"],\"checkpoint\":\"c1\",\"leaseSeconds\":0}", "/leaseSeconds", "minimum"},
            {"/v1/jobs", "{\"disks\":[\"vm1\"],\"checkpoint\":\"c1\",\"leaseSeconds\":999999999}", "/leaseSeconds", "maximum"},
            {"/v1/jobs", "{\"disks\":[\"bad name\"],\"checkpoint\":\"c1\"}", "/disks/0", "pattern"},
            {"/v1/jobs", "{\"disks\":[],\"checkpoint\":\"c1\"}", "/disks", "minItems"},
            {"/v1/jobs", "{\"disks\":[\"vm1\"],\"checkpoint\":\"c1\",\"onCbwError\":\"ignore\"}", "/onCbwError", "enum"},
            {"/v1/jobs", "{\"disks\":[\"vm1\"],\"checkpoint\":\"c1\",\"bogus\":1}", "bogus", "additionalProperties"},
            {"/v1/jobs", "{\"disks\":[\"vm1\"]}", "checkpoint", "required"},
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"/i/x.qcow2\",\"create\":{\"sizeBytes\":\"abc\"}}",
                "/create/sizeBytes", "type"},
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"/i/x.qcow2\",\"create\":{\"sizeBytes\":1}}",
                "/create/sizeBytes", "minimum"},
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"/i/x.qcow2\",\"create\":{\"sizeBytes\":1048576,\"x\":1}}",
                "/create", "additionalProperties"},
        };
        for (String[] row : rows) {
            HttpResponse<String> r = post(base + row[0], row[1]);
            assertEquals(400, r.statusCode(), row[1] + " -> " + r.body());
            String detail = ApiRequest.JSON.readTree(r.body()).path("detail").asText();
            assertTrue(detail.contains(row[2]) && detail.contains(row[3]), row[1] + ": the detail names " + row[2]
                    + " and " + row[3] + ": " + detail);
            assertTrue(!detail.contains("additional properties schema") || row[3].equals("additionalProperties"),
                    row[1] + ": " + detail);
        }
    }

    private HttpResponse<String> get(String uri, String token) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(uri));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> post(String uri, String body) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(uri))
                .header("Authorization", "Bearer s3cret")
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }
}
