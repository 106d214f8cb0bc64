package org.fleeced.it;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #16: push targets over TLS ({@code nbds://}), against qemu-nbd with {@code tls-creds-x509}
 * (certificates from {@link TestPki}; the server verifies the daemon's client certificate too).
 *
 * <pre>
 *   daemon --nbds://localhost:PORT/backup--> qemu-nbd --tls-creds (CA "backup CA") --> t0.qcow2 <-- t1.qcow2
 *   daemon --nbds://--> qemu-nbd with a certificate of another CA      ✗ 502 TARGET_UNREACHABLE (TLS handshake)
 *   daemon --nbds://--> qemu-nbd without TLS                            ✗ 502 TARGET_UNREACHABLE (no STARTTLS)
 *   disk "restored" <--instant restore, nbds://-- qemu-nbd --tls-creds --> t1.qcow2 (the chain's top)
 * </pre>
 *
 * A refused target starts nothing: no job, no checkpoint, and the next push is incremental from
 * the last good one.
 */
class PushTlsTargetIT {
    private static final long DISK = 64 << 20;

    @TempDir
    Path dir;

    @Test
    void aPushChainOverTlsRestoresToTheDiskAndAWrongCaOrAPlainServerIsRefused() throws Exception {
        Tool.require("fio", "nbdcopy", "qemu-img", "qemu-nbd", "openssl");
        Path pki = TestPki.create(dir.resolve("pki"), "backup CA");
        Path rogue = TestPki.create(dir.resolve("rogue"), "another CA");
        try (DaemonUnderTest daemon = DaemonUnderTest.in(dir.resolve("daemon"))
                .config("nbdClientTls", "{caFile: " + pki.resolve("ca-cert.pem") + ", certFile: "
                        + pki.resolve("client-cert.pem") + ", keyFile: " + pki.resolve("client-key.pem") + "}")
                .start()) {
            RestClient rest = daemon.rest();
            daemon.createDisk("vm", DISK);
            String active = daemon.nbdUri("vm");
            PushBackupIT.fio(active, 0).ok();
            List<Path> files = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                if (i > 0) {
                    PushBackupIT.fio(active, i).ok();
                }
                Path expected = NbdDriver.copy(active, dir.resolve("expected-" + i + ".raw"));
                Path file = PushBackupIT.nextChainFile(dir, files, DISK);
                int port = freePort();
                Process server = qemuNbd(file, port, pki);
                try {
                    ObjectNode request = RestClient.jobRequest("c" + i, "vm");
                    request.putObject("targets").putObject("vm").put("uri", "nbds://localhost:" + port + "/backup");
                    if (i > 0) {
                        request.put("incrementalFrom", "c" + (i - 1));
                    }
                    JsonNode ended = PushBackupIT.awaitEnd(rest, rest.startJob(request).path("id").asText());
                    assertEquals("finished", ended.path("state").asText(), ended.toString());
                    assertEquals(i == 0 ? "full" : "incremental", ended.path("disks").get(0).path("mode").asText());
                } finally {
                    stop(server);
                }
                Tool.run("qemu-img", "check", "-f", "qcow2", file.toString()).ok();
                Path restored = dir.resolve("restored-" + i + ".raw");
                Tool.run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", file.toString(), restored.toString()).ok();
                NbdDriver.assertSameBytes(expected, restored, "the TLS chain up to push " + i);
            }

            // the chain's top over TLS is also a source an instant restore reads
            int port = freePort();
            Process served = qemuNbd(files.get(1), port, pki);
            try {
                rest.post("v1/disks", Map.of("name", "restored", "path", daemon.images().resolve("restored.qcow2").toString(),
                        "create", Map.of("restoreFrom", Map.of("uri", "nbds://localhost:" + port + "/backup"))))
                        .expect(201);
                await("the restore over TLS completes").forever().pollInterval(Duration.ofMillis(100))
                        .until(() -> rest.disk("restored").path("restore").path("state").asText().equals("complete"));
            } finally {
                stop(served);
            }
            NbdDriver.assertSameBytes(dir.resolve("expected-1.raw"),
                    NbdDriver.copy(daemon.nbdUri("restored"), dir.resolve("restored-over-tls.raw")),
                    "a disk restored from the nbds:// chain");

            Path spare = dir.resolve("spare.qcow2");
            Tool.run("qemu-img", "create", "-f", "qcow2", spare.toString(), String.valueOf(DISK)).ok();
            assertRefused(rest, spare, rogue, "TLS handshake failed");
            assertRefused(rest, spare, null, "does not offer TLS");
            assertFalse(rest.bitmaps("vm").toString().contains("\"c2\""), "a refused push made no checkpoint");
            assertTrue(daemon.alive(), daemon.log());
        }
    }

    /** A push of c2 to a qemu-nbd with {@code pki}'s server certificate (none: no TLS) is refused, naming {@code cause}. */
    private void assertRefused(RestClient rest, Path file, Path pki, String cause) throws Exception {
        int port = freePort();
        Process server = qemuNbd(file, port, pki);
        try {
            ObjectNode request = RestClient.jobRequest("c2", "vm").put("incrementalFrom", "c1");
            request.putObject("targets").putObject("vm").put("uri", "nbds://localhost:" + port + "/backup");
            RestClient.Problem problem = rest.post("v1/jobs", request).expect(502).problem();
            assertEquals("TARGET_UNREACHABLE", problem.reason(), problem.toString());
            assertTrue(problem.detail().contains(cause), problem.toString());
            assertTrue(rest.get("v1/jobs").expect(200).json().path("jobs").findValues("state").stream()
                    .noneMatch(s -> s.asText().equals("running")), "nothing was started");
        } finally {
            stop(server);
        }
    }

    /** SIGTERM: qemu-nbd closes the image cleanly before it exits. */
    private static void stop(Process server) throws InterruptedException {
        server.destroy();
        server.waitFor();
    }

    /**
     * qemu-nbd serving {@code file} as "backup" on 127.0.0.1:{@code port}, with TLS from {@code pki}
     * unless null; persistent, since the probe that sees it listen is a client too.
     */
    private static Process qemuNbd(Path file, int port, Path pki) throws Exception {
        List<String> command = new ArrayList<>(List.of("qemu-nbd", "--persistent", "-f", "qcow2", "-x", "backup",
                "-b", "127.0.0.1", "-p", String.valueOf(port)));
        if (pki != null) {
            command.addAll(List.of("--object", "tls-creds-x509,id=tls0,endpoint=server,verify-peer=on,dir=" + pki,
                    "--tls-creds", "tls0"));
        }
        command.add(file.toString());
        Process server = Tool.start(command);
        await("qemu-nbd listens on " + port).forever().pollInterval(Duration.ofMillis(50)).until(() -> listens(port));
        return server;
    }

    private static boolean listens(int port) {
        try (Socket probe = new Socket("127.0.0.1", port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
