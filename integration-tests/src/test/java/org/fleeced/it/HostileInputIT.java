package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.logging.Logger;
import org.fleeced.it.NbdDriver.NbdOutcome;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #8, scenario 6: hostile input. REST gets fuzzed JSON (seeded, logged), huge bodies, wrong
 * types and path traversal; NBD gets garbage, truncated requests and unaligned TRIMs on the fleece
 * export. The daemon stays up, every REST refusal is a 4xx problem body, and a well-behaved reader
 * of the same job, reading while the garbage arrives and after it, still gets the snapshot.
 *
 * <pre>
 *   fuzzers ──REST──▶ fleeced ◀──NBD garbage, truncated requests
 *   trimmer ──unaligned TRIMs──▶ fleece export of "vm" (sub-cluster: nothing discarded)
 *                                fleece export of "vm2" (spanning clusters: only whole ones discarded)
 *   well-behaved nbdcopy ──▶ fleece export of "vm" == the disk at job start
 * </pre>
 */
class HostileInputIT {
    private static final Logger LOG = Logger.getLogger(HostileInputIT.class.getName());
    private static final long SEED = 20261108L;
    private static final long DISK = 8 << 20;
    private static final long CLUSTER = 64 << 10;

    @TempDir
    Path dir;

    @Test
    void hostileClientsLeaveTheDaemonServingAndOtherReadersUnaffected() throws Exception {
        Tool.require("fio", "nbdcopy");
        NbdDriver.requireLibnbd();
        LOG.info("fuzz seed " + SEED);
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            RestClient rest = daemon.rest();
            List<Path> expected = new ArrayList<>();
            for (String name : List.of("vm", "vm2")) {
                daemon.createDisk(name, DISK);
                NbdDriver.fio("fill", daemon.nbdUri(name), "--rw=write", "--bs=1M", "--size=8M",
                        "--randseed=" + name.length()).ok();
                expected.add(NbdDriver.copy(daemon.nbdUri(name), dir.resolve(name + "-expected.raw")));
            }
            JsonNode job = rest.startJob(RestClient.jobRequest("c1", "vm", "vm2"));
            String id = job.path("id").asText();
            JsonNode vm = job.path("disks").get(0);
            JsonNode vm2 = job.path("disks").get(1);

            CompletableFuture<Void> nbdGarbage = CompletableFuture.runAsync(() -> nbdGarbage(daemon.nbdPort(),
                    vm.path("export").asText()));
            restRefusals(daemon, rest, id);
            restFuzz(rest, new Random(SEED), id);
            NbdDriver.assertSameBytes(expected.get(0), NbdDriver.copy(vm.path("uri").asText(),
                    dir.resolve("during.raw")), "a well-behaved reader while garbage arrives");
            nbdGarbage.join();
            truncatedRequests(daemon.nbdPort(), vm.path("export").asText());

            List<String> subCluster = List.of("trim:1:1000", "trim:65535:2", "trim:" + (CLUSTER - 10) + ":" + CLUSTER,
                    "trim:" + (3 * CLUSTER + 1) + ":" + (CLUSTER - 1), "trim:" + (DISK - 100) + ":100", "trim:7:0");
            for (NbdOutcome t : NbdDriver.libnbd(vm.path("uri").asText(), null, subCluster.toArray(String[]::new))) {
                assertTrue(t.ok() || "EINVAL".equals(t.errno()), t.toString());
            }
            trimPastTheEnd(daemon.nbdPort(), vm.path("export").asText(), Files.readAllBytes(expected.get(0)));
            assertEquals(0, rest.job(id).path("disks").get(0).path("stats").path("discardedBytes").asLong(),
                    "a TRIM smaller than a CBW cluster discards nothing");

            assertTrue(NbdDriver.libnbd(vm2.path("uri").asText(), "trim:100:" + 3 * CLUSTER).ok());
            byte[] vm2Bytes = Files.readAllBytes(expected.get(1));
            for (long offset : new long[] {0, CLUSTER - 4096, 3 * CLUSTER, 3 * CLUSTER + 200}) {
                assertTrue(NbdDriver.libnbd(vm2.path("uri").asText(), "read:" + offset + ":100").ok(),
                        "the partial clusters around a TRIM stay readable at " + offset);
            }
            for (long offset : new long[] {CLUSTER, 2 * CLUSTER + 4000}) {
                NbdOutcome r = NbdDriver.libnbd(vm2.path("uri").asText(), "read:" + offset + ":100");
                assertTrue(String.valueOf(r.message()).startsWith("EACCES:"),
                        "a discarded cluster at " + offset + ": " + r);
            }
            assertEquals(2 * CLUSTER, rest.job(id).path("disks").get(1).path("stats").path("discardedBytes").asLong());
            assertEquals(vm2Bytes.length, DISK);

            NbdDriver.assertSameBytes(expected.get(0), NbdDriver.copy(vm.path("uri").asText(),
                    dir.resolve("after.raw")), "a well-behaved reader after all the hostile input");
            assertTrue(daemon.alive() && rest.healthy(), daemon.log());
            assertEquals("running", rest.job(id).path("state").asText());
            assertEquals("finished", rest.finish(id, "success").path("state").asText());
            await().atMost(Duration.ofSeconds(30)).until(() -> rest.openNbdConnections() == 0);
        }
    }

    /** The pattern table of REST refusals: each row a request and the one status it must get. */
    private void restRefusals(DaemonUnderTest daemon, RestClient rest, String job) throws Exception {
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Files.createSymbolicLink(daemon.images().resolve("escape"), outside);
        String images = daemon.images().toString();
        daemon.createDisk("idle", 1 << 20);
        Object[][] rows = {
            // path, body, status: the edge it covers
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"" + images + "/../../../etc/passwd\"}", 403},
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"/etc/passwd\"}", 403},
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"" + images + "/escape/x.qcow2\",\"create\":{\"sizeBytes\":1048576}}", 403},
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"" + images + "/y.qcow2\",\"create\":{\"sizeBytes\":1048576,"
                    + "\"backingFile\":\"/etc/passwd\"}}", 403},
            {"/v1/disks", "{\"name\":\"../x\",\"path\":\"" + images + "/x.qcow2\"}", 400},
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"" + images + "/x.qcow2\",\"create\":{\"sizeBytes\":\"abc\"}}", 400},
            {"/v1/disks", "{\"name\":42,\"path\":\"" + images + "/x.qcow2\"}", 400},
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"" + images + "/x.qcow2\",\"create\":{\"sizeBytes\":-1}}", 400},
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"" + images + "/x.qcow2\",\"create\":{\"sizeBytes\":1e400}}", 400},
            {"/v1/disks", "[]", 400},
            {"/v1/disks", "null", 400},
            {"/v1/disks", "", 400},
            {"/v1/disks", "{\"name\":\"x\"", 400},
            {"/v1/disks", "[".repeat(100_000), 400},
            {"/v1/disks", "{\"name\":\"x\",\"path\":\"" + "a".repeat(5000) + "\"}", 400},
            {"/v1/jobs", "{\"disks\":\"vm\",\"checkpoint\":\"c9\"}", 400},
            {"/v1/jobs", "{\"disks\":[\"vm\"],\"checkpoint\":null}", 400},
            {"/v1/jobs", "{\"disks\":[\"vm\"],\"checkpoint\":\"a/b\"}", 400},
            {"/v1/jobs", "{\"disks\":[\"vm\"],\"checkpoint\":\"c9\"}", 409},
            {"/v1/jobs", "{\"disks\":[\"idle\"],\"checkpoint\":\"c9\",\"tempDirectory\":\"/etc\"}", 403},
            {"/v1/jobs", "{\"disks\":[\"idle\"],\"checkpoint\":\"c9\",\"tempDirectory\":\""
                    + daemon.tempDir() + "/../../..\"}", 403},
            {"/v1/jobs/" + job + "/finish", "{\"outcome\":true}", 400},
            {"/v1/jobs/" + job + "/finish", "{\"outcome\":\"maybe\"}", 400},
            {"/v1/jobs/" + job + "/discard", "{\"disk\":\"vm\",\"ranges\":[{\"offset\":-1,\"length\":1}]}", 400},
            {"/v1/jobs/" + job + "/discard", "{\"disk\":\"vm\",\"ranges\":[{\"offset\":9223372036854775807,"
                    + "\"length\":9223372036854775807}]}", 400},
            {"/v1/jobs/..%2F..%2Fetc%2Fpasswd/finish", "{\"outcome\":\"success\"}", 400},
            {"/v1/disks/vm/bitmaps/..%2F..%2Fx/merge", "{\"sources\":[\"..\"]}", 400},
        };
        for (Object[] row : rows) {
            RestClient.Reply a = rest.post((String) row[0], (String) row[1]);
            String what = "POST " + row[0] + " " + abbreviated((String) row[1]) + " -> " + a.status() + " " + a.body();
            assertEquals((int) row[2], a.status(), what);
            assertProblem(a, what);
        }
        for (String path : List.of("/v1/disks/..%2F..%2Fetc%2Fpasswd", "/v1/disks/%00", "/v1/jobs/" + "j".repeat(5000),
                "/v1/disks/vm/../../../etc/passwd")) {
            RestClient.Reply a = rest.get(path);
            assertTrue(a.status() >= 400 && a.status() < 500, "GET " + abbreviated(path) + " -> " + a.status() + " " + a.body());
        }
        RestClient.Reply huge = rest.send(rest.request("/v1/disks").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"name\":\"" + "x".repeat(8 << 20) + "\"}")));
        assertEquals(413, huge.status(), "an 8 MiB body: " + abbreviated(huge.body()));
        RestClient.Reply wrongType = rest.send(rest.request("/v1/disks")
                .header("Content-Type", "text/plain").POST(HttpRequest.BodyPublishers.ofString("name=x")));
        assertTrue(wrongType.status() == 400 || wrongType.status() == 415, "text/plain body: " + wrongType);
        assertTrue(Files.list(outside).findAny().isEmpty(), "nothing was created through the symbolic link");
    }

    /** Seeded mutations of valid bodies: the daemon answers each one (never 5xx) and stays healthy. */
    private static void restFuzz(RestClient rest, Random random, String job) throws Exception {
        String[][] targets = {
            {"/v1/disks", "{\"name\":\"f1\",\"path\":\"/nowhere/f1.qcow2\",\"create\":{\"sizeBytes\":1048576}}"},
            {"/v1/jobs", "{\"disks\":[\"vm\"],\"checkpoint\":\"c2\",\"incrementalFrom\":\"c1\",\"leaseSeconds\":60}"},
            {"/v1/disks/vm/bitmaps", "{\"name\":\"b1\",\"granularity\":65536,\"persistent\":true}"},
            {"/v1/jobs/no-such-job/finish", "{\"outcome\":\"failure\"}"},
            {"/v1/jobs/no-such-job/discard", "{\"disk\":\"vm\",\"ranges\":[{\"offset\":0,\"length\":65536}]}"},
            {"/v1/jobs/" + job + "/lease", "{\"leaseSeconds\":3600}"},
        };
        String alphabet = "{}[]\",:0123456789-.eE\\u0000 truefalsnl\u00e9\ud83d\ude00";
        for (int i = 0; i < 300; i++) {
            String[] t = targets[random.nextInt(targets.length)];
            StringBuilder body = new StringBuilder(t[1]);
            for (int m = 1 + random.nextInt(4); m > 0 && !body.isEmpty(); m--) {
                int at = random.nextInt(body.length());
                switch (random.nextInt(4)) {
                    case 0 -> body.deleteCharAt(at);
                    case 1 -> body.insert(at, alphabet.charAt(random.nextInt(alphabet.length())));
                    case 2 -> body.setCharAt(at, alphabet.charAt(random.nextInt(alphabet.length())));
                    default -> body.setLength(at);
                }
            }
            RestClient.Reply a = rest.post(t[0], body.toString());
            String what = "fuzz " + i + ": POST " + t[0] + " " + body + " -> " + a.status() + " " + a.body();
            assertTrue(a.status() < 500, what);
            if (a.status() >= 400) {
                assertProblem(a, what);
            }
        }
        assertTrue(rest.healthy());
    }

    private static void assertProblem(RestClient.Reply a, String what) {
        try {
            a.problem();
        } catch (AssertionError notAProblem) {
            throw new AssertionError("a problem body: " + what, notAProblem);
        }
    }

    /** 40 connections of seeded garbage: random bytes, a valid greeting then junk, junk options. */
    private static void nbdGarbage(int port, String export) {
        Random random = new Random(SEED + 1);
        for (int i = 0; i < 40; i++) {
            byte[] junk = new byte[1 + random.nextInt(4096)];
            random.nextBytes(junk);
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.setSoTimeout(5_000);
                OutputStream out = s.getOutputStream();
                if (i % 2 == 0) {
                    s.getInputStream().readNBytes(18);
                    out.write(new byte[] {0, 0, 0, 3});
                }
                out.write(junk);
                out.flush();
            } catch (IOException closedByTheServer) {
                LOG.fine("garbage connection " + i + " closed: " + closedByTheServer);
            }
        }
        try (RawNbdConnection c = RawNbdConnection.open(port, export)) {
            byte[] junk = new byte[1 << 16];
            random.nextBytes(junk);
            c.out.write(junk);
            c.out.flush();
        } catch (IOException e) {
            throw new CompletionException(e);
        }
    }

    /** Requests cut short: half a header, a READ abandoned before its reply, a WRITE missing its data. */
    private static void truncatedRequests(int port, String export) throws IOException {
        byte[] read = RawNbdConnection.request(RawNbdConnection.CMD_READ, 1, 0, 32 << 20);
        try (RawNbdConnection c = RawNbdConnection.open(port, export)) {
            assertEquals(DISK, c.size);
            c.out.write(read, 0, 14);
            c.out.flush();
        }
        try (RawNbdConnection c = RawNbdConnection.open(port, export)) {
            c.out.write(read);
            c.out.flush();
            assertEquals(RawNbdConnection.SIMPLE_REPLY_MAGIC, c.in.readInt(), "the reply starts; we leave");
        }
        try (RawNbdConnection c = RawNbdConnection.open(port, export)) {
            c.out.write(RawNbdConnection.request(RawNbdConnection.CMD_WRITE, 2, 0, 1 << 20));
            c.out.write(new byte[100]);
            c.out.flush();
        }
        try (RawNbdConnection c = RawNbdConnection.open(port, export)) {
            c.out.write(RawNbdConnection.request(RawNbdConnection.CMD_TRIM, 3, 1, 3));
            c.out.write(RawNbdConnection.request((short) 77, 4, 0, 1));
            c.out.write("not a request at all".getBytes(StandardCharsets.US_ASCII));
            c.out.flush();
        }
    }

    /** A TRIM past the end gets EINVAL (libnbd refuses to send one), and the connection stays usable. */
    private static void trimPastTheEnd(int port, String export, byte[] expected) throws IOException {
        try (RawNbdConnection c = RawNbdConnection.open(port, export)) {
            c.out.write(RawNbdConnection.request(RawNbdConnection.CMD_TRIM, 5, DISK - CLUSTER, (int) (2 * CLUSTER)));
            c.out.write(RawNbdConnection.request(RawNbdConnection.CMD_READ, 6, 0, 512));
            c.out.flush();
            assertEquals(RawNbdConnection.SIMPLE_REPLY_MAGIC, c.in.readInt());
            assertEquals(22, c.in.readInt(), "NBD_EINVAL for a TRIM past the end");
            assertEquals(5, c.in.readLong());
            assertEquals(RawNbdConnection.SIMPLE_REPLY_MAGIC, c.in.readInt());
            assertEquals(0, c.in.readInt(), "the next request on the same connection succeeds");
            assertEquals(6, c.in.readLong());
            assertEquals(java.util.Arrays.toString(java.util.Arrays.copyOf(expected, 512)),
                    java.util.Arrays.toString(c.in.readNBytes(512)));
        }
    }

    private static String abbreviated(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "...(" + s.length() + " chars)" : s;
    }
}
