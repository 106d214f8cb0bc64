package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.SocketException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every kind of bad request gets the problem response openapi.yaml documents for it: status,
 * {@code application/problem+json}, and {@code errno}, {@code reason} and {@code detail} fields.
 * One daemon serves the whole table; every row is a refusal, so no row changes what the next sees:
 *
 * <pre>
 *   disk busy   job {job} running on it (checkpoint c1)
 *   disk idle   checkpoint c1 from job {ended} (finished); bitmap c0 created, then deleted
 *   disk fresh  no checkpoint at all
 *   disk served an NBD client connected to its export all along
 *   images/existing.qcow2          an image nobody attached
 *   images/damaged.qcow2           a qcow2 image whose header has cluster_bits 40
 *   images/sidecar.raw             a raw image whose checkpoint sidecar (.fleeced-bitmaps) is garbage
 *   images/escape.qcow2 -> /etc/hostname
 *   images/dangling.qcow2 -> images/gone.qcow2 (which does not exist)
 * </pre>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RestProblemsIT {
    private static final String ALL_RIGHT = "token";
    private static final String NO_TOKEN = "none";
    private static final String WRONG_TOKEN = "wrong";
    /** 4 EiB: with 64 KiB clusters its L1 table would need 64 MiB, over the 32 MiB QEMU allows too. */
    private static final long HUGE_QCOW2 = 1L << 62;
    /** The largest size openapi.yaml lets a request name (4 EiB): ext4 refuses files over 16 TiB with EFBIG. */
    private static final long HUGE_RAW = 1L << 62;
    /** The byte of a qcow2 header that holds cluster_bits' lowest byte (spec "Header": bytes 20-23, big-endian). */
    private static final int CLUSTER_BITS_LOW_BYTE = 23;

    @TempDir
    static Path dir;

    private DaemonUnderTest daemon;
    private String runningJob;
    private String endedJob;
    private RawNbdConnection servedClient;

    /**
     * One bad request: which edge it covers, the call ({@code {job}}, {@code {ended}},
     * {@code {images}}, {@code {tmp}} filled in), and the problem it must get; {@code mentions}
     * is a word the detail must contain (the offending field), or null.
     */
    record Row(String edge, String method, String path, String token, String body, int status, String errno,
            String reason, String mentions) {
        @Override
        public String toString() {
            return edge;
        }
    }

    static Stream<Row> badRequests() {
        String job = "v1/jobs";
        String disks = "v1/disks";
        return Stream.of(
                new Row("400 attach without the required path", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\"}", 400, "EINVAL", "INVALID_REQUEST", "path"),
                new Row("400 attach with a property the schema lacks", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"{images}/existing.qcow2\",\"bogus\":1}", 400, "EINVAL",
                        "INVALID_REQUEST", "bogus"),
                new Row("400 attach with a name outside the Name pattern", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"bad name\",\"path\":\"{images}/existing.qcow2\"}", 400, "EINVAL",
                        "INVALID_REQUEST", "name"),
                new Row("400 create with a cluster size that is not a power of two", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"n\",\"path\":\"{images}/new.qcow2\",\"create\":{\"sizeBytes\":1048576,"
                                + "\"clusterSize\":65537}}", 400, "EINVAL", "INVALID_REQUEST", "clusterSize"),
                new Row("400 a nested property of the wrong type is named with the rule (not 'additional properties')",
                        "POST", disks, ALL_RIGHT, "{\"name\":\"x\",\"path\":\"{images}/new.qcow2\",\"create\":"
                                + "{\"sizeBytes\":\"abc\"}}", 400, "EINVAL", "INVALID_REQUEST",
                        "body property /create/sizeBytes: Instance type string is invalid. Expected integer (rule 'type'"),
                new Row("400 start a job with leaseSeconds above its maximum names the rule", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"idle\"],\"checkpoint\":\"c9\",\"leaseSeconds\":999999999}", 400, "EINVAL",
                        "INVALID_REQUEST", "body property /leaseSeconds: 999999999 is greater than 604800 (rule 'maximum'"),
                new Row("400 start a job without checkpoint", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"idle\"]}", 400, "EINVAL", "INVALID_REQUEST", "checkpoint"),
                new Row("400 start a job with disks not an array", "POST", job, ALL_RIGHT,
                        "{\"disks\":\"idle\",\"checkpoint\":\"c9\"}", 400, "EINVAL", "INVALID_REQUEST", "disks"),
                new Row("400 start a job with leaseSeconds below its minimum", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"idle\"],\"checkpoint\":\"c9\",\"leaseSeconds\":0}", 400, "EINVAL",
                        "INVALID_REQUEST", "leaseSeconds"),
                new Row("400 start a job with onCbwError outside its enum", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"idle\"],\"checkpoint\":\"c9\",\"onCbwError\":\"ignore\"}", 400, "EINVAL",
                        "INVALID_REQUEST", "onCbwError"),
                new Row("400 a body that is not JSON", "POST", job, ALL_RIGHT,
                        "{\"disks\": [", 400, "EINVAL", "INVALID_REQUEST", null),
                new Row("400 finish with an outcome outside its enum", "POST", "v1/jobs/{job}/finish", ALL_RIGHT,
                        "{\"outcome\":\"maybe\"}", 400, "EINVAL", "INVALID_REQUEST", "outcome"),
                new Row("400 discard a negative offset", "POST", "v1/jobs/{job}/discard", ALL_RIGHT,
                        "{\"disk\":\"busy\",\"ranges\":[{\"offset\":-1,\"length\":65536}]}", 400, "EINVAL",
                        "INVALID_REQUEST", "ranges"),
                new Row("400 discard a range beyond the end of the disk", "POST", "v1/jobs/{job}/discard", ALL_RIGHT,
                        "{\"disk\":\"busy\",\"ranges\":[{\"offset\":67108864,\"length\":65536}]}", 400, "EINVAL",
                        "RANGE_OUTSIDE_DISK", null),
                new Row("400 a disk path parameter outside the Name pattern", "GET", "v1/disks/bad%20name",
                        ALL_RIGHT, null, 400, "EINVAL", "INVALID_REQUEST", "disk"),
                new Row("400 create a qcow2 image whose size is not a multiple of 512", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"{images}/odd.qcow2\",\"create\":{\"sizeBytes\":1000}}", 400,
                        "EINVAL", "INVALID_REQUEST", "512"),
                new Row("400 create a qcow2 image larger than its L1 table can address", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"{images}/huge.qcow2\",\"create\":{\"sizeBytes\":" + HUGE_QCOW2
                                + "}}", 400, "EFBIG", "TOO_LARGE", "L1"),
                new Row("400 create a raw image larger than the file system allows (EFBIG, not 507)", "POST", disks,
                        ALL_RIGHT, "{\"name\":\"x\",\"path\":\"{images}/huge.raw\",\"format\":\"raw\","
                                + "\"create\":{\"sizeBytes\":" + HUGE_RAW + "}}", 400, "EFBIG", "TOO_LARGE",
                        "File too large"),
                new Row("400 detach with force that is not a boolean", "DELETE", "v1/disks/served?force=maybe",
                        ALL_RIGHT, null, 400, "EINVAL", "INVALID_REQUEST", "force"),

                new Row("401 list disks without a token", "GET", disks, NO_TOKEN, null, 401, "EPERM",
                        "TOKEN_REQUIRED", "Bearer"),
                new Row("401 list disks with a wrong token", "GET", disks, WRONG_TOKEN, null, 401, "EPERM",
                        "TOKEN_INVALID", "Bearer"),
                new Row("401 metrics without a token", "GET", "metrics", NO_TOKEN, null, 401, "EPERM",
                        "TOKEN_REQUIRED", null),
                new Row("401 events without a token", "GET", "v1/events", NO_TOKEN, null, 401, "EPERM",
                        "TOKEN_REQUIRED", null),
                new Row("401 finish a job without a token", "POST", "v1/jobs/{job}/finish", NO_TOKEN,
                        "{\"outcome\":\"failure\"}", 401, "EPERM", "TOKEN_REQUIRED", null),

                new Row("403 attach /etc/passwd", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"/etc/passwd\"}", 403, "EPERM", "PATH_NOT_ALLOWED", "/etc/passwd"),
                new Row("403 attach through ../ out of the image directory", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"{images}/../../../../../../etc/hostname\"}", 403, "EPERM",
                        "PATH_NOT_ALLOWED", null),
                new Row("403 attach a symlink in the image directory that points out of it", "POST", disks,
                        ALL_RIGHT, "{\"name\":\"x\",\"path\":\"{images}/escape.qcow2\"}", 403, "EPERM",
                        "PATH_NOT_ALLOWED", null),
                new Row("403 attach a dangling symbolic link (not 500 IO_ERROR)", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"{images}/dangling.qcow2\",\"format\":\"qcow2\"}", 403, "EPERM",
                        "PATH_NOT_ALLOWED", "dangling"),
                new Row("403 create through a dangling symbolic link (not 500 IO_ERROR)", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"{images}/dangling.qcow2\",\"create\":{\"sizeBytes\":1048576}}",
                        403, "EPERM", "PATH_NOT_ALLOWED", "gone.qcow2"),
                new Row("403 create a file whose name is longer than 255 bytes (not 500 IO_ERROR)", "POST", disks,
                        ALL_RIGHT, "{\"name\":\"x\",\"path\":\"{images}/" + "n".repeat(256)
                                + ".qcow2\",\"create\":{\"sizeBytes\":1048576}}", 403, "EPERM", "PATH_NOT_ALLOWED",
                        "255"),
                new Row("403 attach a relative path", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"images/existing.qcow2\"}", 403, "EPERM", "PATH_NOT_ALLOWED",
                        null),
                new Row("403 create an image in the temp directory", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"{tmp}/new.qcow2\",\"create\":{\"sizeBytes\":1048576}}", 403,
                        "EPERM", "PATH_NOT_ALLOWED", null),
                new Row("403 a temp directory outside tempDirs", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"idle\"],\"checkpoint\":\"c9\",\"tempDirectory\":\"/etc\"}", 403, "EPERM",
                        "PATH_NOT_ALLOWED", null),

                new Row("404 get an unknown disk", "GET", "v1/disks/nope", ALL_RIGHT, null, 404, "ENOENT",
                        "DISK_UNKNOWN", "nope"),
                new Row("404 detach an unknown disk", "DELETE", "v1/disks/nope", ALL_RIGHT, null, 404, "ENOENT",
                        "DISK_UNKNOWN", "nope"),
                new Row("404 bitmaps of an unknown disk", "GET", "v1/disks/nope/bitmaps", ALL_RIGHT, null, 404,
                        "ENOENT", "DISK_UNKNOWN", "nope"),
                new Row("404 plan for an unknown disk", "GET", "v1/disks/nope/plan", ALL_RIGHT, null, 404,
                        "ENOENT", "DISK_UNKNOWN", "nope"),
                new Row("404 start a job on an unknown disk", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"nope\"],\"checkpoint\":\"c9\"}", 404, "ENOENT", "DISK_UNKNOWN", "nope"),
                new Row("404 attach an image that does not exist", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"{images}/missing.qcow2\"}", 404, "ENOENT", "IMAGE_NOT_FOUND",
                        null),
                new Row("404 get an unknown job", "GET", "v1/jobs/nope", ALL_RIGHT, null, 404, "ENOENT",
                        "JOB_UNKNOWN", "nope"),
                new Row("404 finish an unknown job", "POST", "v1/jobs/nope/finish", ALL_RIGHT,
                        "{\"outcome\":\"success\"}", 404, "ENOENT", "JOB_UNKNOWN", "nope"),
                new Row("404 renew the lease of an unknown job", "POST", "v1/jobs/nope/lease", ALL_RIGHT,
                        "{\"leaseSeconds\":60}", 404, "ENOENT", "JOB_UNKNOWN", "nope"),
                new Row("404 discard on a disk the job does not cover", "POST", "v1/jobs/{job}/discard", ALL_RIGHT,
                        "{\"disk\":\"idle\",\"ranges\":[{\"offset\":0,\"length\":65536}]}", 404, "ENOENT",
                        "DISK_NOT_IN_JOB", null),
                new Row("404 a path the API does not have", "GET", "v1/nothing", ALL_RIGHT, null, 404, "ENOENT",
                        "NO_SUCH_PATH", null),

                new Row("409 start a job on a disk whose job runs", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"busy\"],\"checkpoint\":\"c9\"}", 409, "EBUSY", "JOB_RUNNING", "{job}"),
                new Row("409 detach a disk whose job runs", "DELETE", "v1/disks/busy", ALL_RIGHT, null, 409,
                        "EBUSY", "JOB_RUNNING", "{job}"),
                new Row("409 delete a bitmap while a job runs on the disk", "DELETE", "v1/disks/busy/bitmaps/c1",
                        ALL_RIGHT, null, 409, "EBUSY", "JOB_RUNNING", null),
                new Row("409 detach a disk an NBD client is connected to", "DELETE", "v1/disks/served", ALL_RIGHT,
                        null, 409, "EBUSY", "DISK_IN_USE", "1 NBD client"),
                new Row("409 finish an ended job with another outcome than the one that ended it", "POST",
                        "v1/jobs/{ended}/finish", ALL_RIGHT, "{\"outcome\":\"failure\"}", 409, "EBUSY", "JOB_ENDED",
                        "with outcome success"),
                new Row("409 attach under a name in use", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"idle\",\"path\":\"{images}/existing.qcow2\"}", 409, "EBUSY", "NAME_IN_USE",
                        "idle"),
                new Row("409 create a bitmap under a name in use", "POST", "v1/disks/idle/bitmaps", ALL_RIGHT,
                        "{\"name\":\"c1\"}", 409, "EBUSY", "NAME_IN_USE", "c1"),
                new Row("422 a non-persistent bitmap on a qcow2 disk, whose checkpoints live in the image", "POST",
                        "v1/disks/idle/bitmaps", ALL_RIGHT, "{\"name\":\"t1\",\"persistent\":false}", 422, "EINVAL",
                        "PERSISTENCE", "qcow2"),
                new Row("409 start a job whose checkpoint name is in use", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"idle\"],\"checkpoint\":\"c1\"}", 409, "EBUSY", "CHECKPOINT_EXISTS", "c1"),
                new Row("409 create an image that exists", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"{images}/existing.qcow2\",\"create\":{\"sizeBytes\":1048576}}",
                        409, "EBUSY", "IMAGE_EXISTS", null),
                new Row("409 discard on an ended job", "POST", "v1/jobs/{ended}/discard", ALL_RIGHT,
                        "{\"disk\":\"idle\",\"ranges\":[{\"offset\":0,\"length\":65536}]}", 409, "EBUSY",
                        "JOB_ENDED", null),
                new Row("409 renew the lease of an ended job", "POST", "v1/jobs/{ended}/lease", ALL_RIGHT,
                        "{\"leaseSeconds\":60}", 409, "EBUSY", "JOB_ENDED", null),

                new Row("422 incremental from an unknown checkpoint", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"idle\"],\"checkpoint\":\"c9\",\"incrementalFrom\":\"nope\"}", 422, "EINVAL",
                        "BASE_UNKNOWN", "nope"),
                new Row("422 incremental from a deleted checkpoint", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"idle\"],\"checkpoint\":\"c9\",\"incrementalFrom\":\"c0\"}", 422, "EINVAL",
                        "BASE_UNKNOWN", "c0"),
                new Row("422 incremental on a disk without any checkpoint (NEW_DISK, as fallbackReason names it)", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"fresh\"],\"checkpoint\":\"c9\",\"incrementalFrom\":\"c1\"}", 422, "EINVAL",
                        "NEW_DISK", null),
                new Row("422 attach an image whose header is invalid (not 500 IO_ERROR)", "POST", disks, ALL_RIGHT,
                        "{\"name\":\"x\",\"path\":\"{images}/damaged.qcow2\",\"format\":\"qcow2\"}", 422,
                        "EUCLEAN", "IMAGE_INVALID", "cluster_bits"),
                new Row("422 attach a raw image whose checkpoint sidecar is damaged (not 500 IO_ERROR)", "POST", disks,
                        ALL_RIGHT, "{\"name\":\"x\",\"path\":\"{images}/sidecar.raw\",\"format\":\"raw\"}", 422,
                        "EUCLEAN", "IMAGE_INVALID", "sidecar.raw.fleeced-bitmaps"),
                new Row("422 plan from an unknown checkpoint", "GET", "v1/disks/idle/plan?base=nope", ALL_RIGHT,
                        null, 422, "EINVAL", "BASE_UNKNOWN", "nope"),

                new Row("507 tempReserveBytes beyond the free space", "POST", job, ALL_RIGHT,
                        "{\"disks\":[\"idle\"],\"checkpoint\":\"c9\",\"tempReserveBytes\":1152921504606846976}", 507,
                        "ENOSPC", "TEMP_SPACE", "tempReserveBytes"));
    }

    @BeforeAll
    void daemonWithBusyAndIdleDisks() throws Exception {
        daemon = DaemonUnderTest.start(dir);
        daemon.attachNewQcow2("busy", 64 << 20);
        runningJob = daemon.rest().startJob(RestClient.jobRequest("c1", "busy")).get("id").asText();
        daemon.attachNewQcow2("idle", 64 << 20);
        endedJob = daemon.rest().startJob(RestClient.jobRequest("c1", "idle")).get("id").asText();
        daemon.rest().finish(endedJob, "success");
        daemon.rest().post("v1/disks/idle/bitmaps", Map.of("name", "c0")).expect(201);
        daemon.rest().delete("v1/disks/idle/bitmaps/c0").expect(200);
        daemon.attachNewQcow2("fresh", 64 << 20);
        Tool.run("qemu-img", "create", "-q", "-f", "qcow2", daemon.images().resolve("existing.qcow2").toString(),
                "1M").ok();
        Files.createSymbolicLink(daemon.images().resolve("escape.qcow2"), Path.of("/etc/hostname"));
        Files.createSymbolicLink(daemon.images().resolve("dangling.qcow2"), daemon.images().resolve("gone.qcow2"));
        Path damaged = daemon.images().resolve("damaged.qcow2");
        Tool.run("qemu-img", "create", "-q", "-f", "qcow2", damaged.toString(), "1M").ok();
        try (FileChannel header = FileChannel.open(damaged, StandardOpenOption.WRITE)) {
            header.write(ByteBuffer.wrap(new byte[] {40}), CLUSTER_BITS_LOW_BYTE);
        }
        Path raw = daemon.images().resolve("sidecar.raw");
        Tool.run("qemu-img", "create", "-q", "-f", "raw", raw.toString(), "1M").ok();
        Files.writeString(raw.resolveSibling("sidecar.raw.fleeced-bitmaps"), "not a sidecar fleeced wrote");
        daemon.attachNewQcow2("served", 1 << 20);
        servedClient = RawNbdConnection.open(daemon.nbdPort(), "served");
    }

    @AfterAll
    void stop() throws Exception {
        if (servedClient != null) {
            servedClient.close();
        }
        if (daemon != null) {
            daemon.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badRequests")
    void badRequestGetsItsDocumentedProblem(Row row) throws Exception {
        RestClient client = switch (row.token()) {
            case NO_TOKEN -> daemon.rest().withToken(null);
            case WRONG_TOKEN -> daemon.rest().withToken("not-" + daemon.token());
            default -> daemon.rest();
        };
        String path = fill(row.path());
        RestClient.Reply reply = switch (row.method()) {
            case "GET" -> client.get(path);
            case "DELETE" -> client.delete(path);
            default -> client.post(path, fill(row.body()));
        };
        assertEquals(row.status(), reply.status(), reply.toString());
        assertTrue(reply.contentType().startsWith("application/problem+json"), reply.toString());
        RestClient.Problem problem = reply.problem();
        assertEquals(row.status(), problem.status(), reply.toString());
        assertFalse(problem.title().isBlank(), reply.toString());
        assertEquals(row.errno(), problem.errno(), reply.toString());
        assertEquals(row.reason(), problem.reason(), reply.toString());
        String detail = problem.detail();
        assertFalse(detail.isBlank(), reply.toString());
        if (row.mentions() != null) {
            assertTrue(detail.contains(fill(row.mentions())), "detail should name " + fill(row.mentions()) + ": "
                    + reply);
        }
        if (row.status() == 401) {
            assertEquals(List.of("Bearer realm=\"fleeced\""), reply.headers().get("www-authenticate"),
                    reply.toString());
        }
    }

    @Test
    void requestsWithoutTheTokenAreRefusedAndChangeNothing() throws Exception {
        RestClient anonymous = daemon.rest().withToken(null);
        String existing = daemon.images().resolve("existing.qcow2").toString();
        assertEquals(401, anonymous.post("v1/disks", Map.of("name", "stolen", "path", existing)).status());
        daemon.rest().get("v1/disks/stolen").expect(404);
        assertEquals(401, anonymous.post("v1/jobs/" + runningJob + "/finish", Map.of("outcome", "failure")).status());
        assertEquals("running", daemon.rest().job(runningJob).get("state").asText());
        assertEquals(401, anonymous.delete("v1/disks/idle").status());
        daemon.rest().get("v1/disks/idle").expect(200);
        assertEquals(401, anonymous.post("v1/jobs", Map.of("disks", List.of("idle"), "checkpoint", "c9")).status());
        assertFalse(daemon.rest().get("v1/disks/idle/bitmaps").expect(200).body().contains("\"c9\""));
        HttpResponse<String> health = anonymous.http().send(anonymous.request("health").GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, health.statusCode(), "/health needs no token: " + health.body());
        HttpRequest bearerless = anonymous.request("v1/disks").header("Authorization", daemon.token()).GET().build();
        assertEquals(401, anonymous.http().send(bearerless, HttpResponse.BodyHandlers.ofString()).statusCode(),
                "the token without the Bearer scheme is refused");
    }

    @Test
    void aCreateTheFileSystemOrTheFormatRefusesLeavesNoFileBehind() throws Exception {
        for (String image : List.of("huge.raw", "huge.qcow2", "odd.qcow2")) {
            assertFalse(Files.exists(daemon.images().resolve(image), LinkOption.NOFOLLOW_LINKS), image);
        }
        assertFalse(Files.exists(daemon.images().resolve("gone.qcow2")), "nothing was created through the link");
        assertTrue(Files.isSymbolicLink(daemon.images().resolve("dangling.qcow2")), "the link stays as it was");
    }

    @Test
    void aRetriedFinishGetsTheEndedJobAndAnotherOutcomeIsRefused() throws Exception {
        daemon.attachNewQcow2("retried", 1 << 20);
        String id = daemon.rest().startJob(RestClient.jobRequest("c1", "retried")).get("id").asText();
        JsonNode first = daemon.rest().finish(id, "success");
        assertEquals("finished", first.get("state").asText());
        assertEquals(first, daemon.rest().finish(id, "success"), "a retry gets the job as the first finish ended it");
        RestClient.Problem other = daemon.rest().post("v1/jobs/" + id + "/finish", Map.of("outcome", "failure"))
                .expect(409).problem();
        assertEquals("JOB_ENDED", other.reason(), other.toString());
        assertEquals(first, daemon.rest().job(id), "the refused finish changed nothing");
    }

    /**
     * Many finishes of one job at once, half success and half failure: exactly one decides. Every
     * finish that asked the deciding outcome gets the same ended job, every other one 409.
     */
    @Test
    void ofManyConcurrentFinishesExactlyOneDecides() throws Exception {
        daemon.attachNewQcow2("raced", 1 << 20);
        for (int round = 0; round < 5; round++) {
            String id = daemon.rest().startJob(RestClient.jobRequest("r" + round, "raced")).get("id").asText();
            List<CompletableFuture<HttpResponse<String>>> finishes = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                String body = "{\"outcome\":\"" + (i % 2 == 0 ? "success" : "failure") + "\"}";
                finishes.add(daemon.rest().http().sendAsync(daemon.rest().request("v1/jobs/" + id + "/finish")
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(), HttpResponse.BodyHandlers.ofString()));
            }
            List<HttpResponse<String>> answers = finishes.stream().map(CompletableFuture::join).toList();
            JsonNode ended = daemon.rest().job(id);
            Map<Integer, Integer> statusCount = new TreeMap<>();
            boolean successDecided = "finished".equals(ended.get("state").asText());
            for (int i = 0; i < answers.size(); i++) {
                HttpResponse<String> r = answers.get(i);
                statusCount.merge(r.statusCode(), 1, Integer::sum);
                boolean askedSuccess = i % 2 == 0;
                if (askedSuccess == successDecided) {
                    assertEquals(200, r.statusCode(), "round " + round + ", finish " + i + ": " + r.body());
                    assertEquals(ended, RestClient.JSON.readTree(r.body()), "round " + round + ", finish " + i);
                } else {
                    assertEquals(409, r.statusCode(), "round " + round + ", finish " + i + ": " + r.body());
                    assertTrue(r.body().contains("JOB_ENDED"), r.body());
                }
            }
            assertEquals(Map.of(200, 12, 409, 12), statusCount, "round " + round);
        }
    }

    /**
     * {@code DELETE ?force=true} with an NBD client connected: the client's connection ends, the
     * image is closed cleanly (qemu-img check finds nothing, no lock is left), the disk is gone.
     */
    @Test
    void aForcedDetachClosesTheClientsAndTheImageCleanly() throws Exception {
        daemon.attachNewQcow2("forced", 1 << 20);
        Path image = daemon.images().resolve("forced.qcow2");
        try (RawNbdConnection client = RawNbdConnection.open(daemon.nbdPort(), "forced")) {
            RestClient.Problem refused = daemon.rest().delete("v1/disks/forced").expect(409).problem();
            assertEquals("DISK_IN_USE", refused.reason(), refused.toString());
            daemon.rest().delete("v1/disks/forced?force=true").expect(204);
            client.socket.setSoTimeout(60_000);
            assertEquals(-1, readUntilClosed(client), "the client sees its connection end");
        }
        daemon.rest().get("v1/disks/forced").expect(404);
        Tool.run("qemu-img", "check", "-q", image.toString()).ok();
        Tool.run("qemu-img", "info", "--force-share", image.toString()).ok();
        daemon.rest().attach("forced", image, "qcow2");
        daemon.rest().delete("v1/disks/forced").expect(204);
    }

    /** Reads until the server closes the connection: -1, or -1 after the reset it may send. */
    private static int readUntilClosed(RawNbdConnection client) {
        try {
            while (client.in.read() != -1) {
                // a reply to nothing cannot come; any byte is skipped until the end
            }
            return -1;
        } catch (SocketException reset) {
            return -1;
        } catch (IOException e) {
            throw new AssertionError("the connection did not end: " + e, e);
        }
    }

    private String fill(String text) {
        if (text == null) {
            return null;
        }
        return text.replace("{job}", runningJob).replace("{ended}", endedJob)
                .replace("{images}", daemon.images().toString()).replace("{tmp}", daemon.tempDir().toString());
    }
}
