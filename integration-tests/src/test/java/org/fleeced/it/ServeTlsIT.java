package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.RandomAccessFile;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * STARTTLS with X.509 certificates made here with openssl ({@link TestPki}): a server that has a certificate refuses
 * plain sessions (NBD_REP_ERR_TLS_REQD), verifies client certificates, and serves nbdinfo, nbdcopy
 * and qemu-img over TLS. The certificate directory has the file names libnbd and QEMU look for.
 */
class ServeTlsIT {
    @TempDir
    static Path dir;
    static Path pki;
    static Path noClientCert;
    static ServedImage server;

    @BeforeAll
    static void start() throws Exception {
        Tool.require("openssl");
        Tool.require("nbdinfo");
        pki = TestPki.create(dir.resolve("pki"), "fleeced test CA");
        noClientCert = Files.createDirectories(dir.resolve("anonymous"));
        Files.copy(pki.resolve("ca-cert.pem"), noClientCert.resolve("ca-cert.pem"));
        Path image = dir.resolve("disk.raw");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.setLength(16 << 20);
            byte[] data = new byte[1 << 20];
            new Random(3).nextBytes(data);
            file.write(data);
        }
        // the first TLS session builds the server's key store on its event loop, seconds on a loaded
        // machine, so the handshake timeout is wide
        server = ServedImage.tcp(dir, image, "--handshake-timeout", "120",
                "--tls-cert", pki.resolve("server-cert.pem").toString(),
                "--tls-key", pki.resolve("server-key.pem").toString(),
                "--tls-ca", pki.resolve("ca-cert.pem").toString(), "--tls-verify-client");
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            assertEquals(0, server.stop(), server.log());
        }
    }

    private static String tlsUri(Path certificates) {
        return server.uri() + "?tls-certificates=" + certificates;
    }

    @Test
    void theUriSaysTlsAndNbdinfoConnectsWithACertificate() throws Exception {
        assertTrue(server.uri().startsWith("nbds://"), server.uri());
        Tool isTls = Tool.run("nbdinfo", "--is", "tls", tlsUri(pki));
        assertEquals(0, isTls.exit(), isTls.output() + server.log());
        String info = Tool.run("nbdinfo", tlsUri(pki)).ok().output();
        assertTrue(info.contains("with TLS"), info);
    }

    @Test
    void aPlainClientIsRefused() throws Exception {
        Tool plain = Tool.run("nbdinfo", server.uri().replace("nbds://", "nbd://"));
        assertNotEquals(0, plain.exit(), plain.output());
    }

    @Test
    void optionsBeforeStarttlsGetTlsRequired() throws Exception {
        URI uri = URI.create(server.uri());
        try (Socket socket = new Socket(uri.getHost(), uri.getPort())) {
            DataInputStream in = new DataInputStream(socket.getInputStream());
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            in.readNBytes(18);
            out.writeInt(3);
            out.writeLong(0x49484156454F5054L);
            out.writeInt(3);
            out.writeInt(0);
            in.readLong();
            assertEquals(3, in.readInt());
            assertEquals((1 << 31) | 5, in.readInt(), "NBD_REP_ERR_TLS_REQD");
        }
    }

    @Test
    void aClientWithoutACertificateIsRefused() throws Exception {
        Tool anonymous = Tool.run("nbdinfo", tlsUri(noClientCert));
        assertNotEquals(0, anonymous.exit(), anonymous.output());
        assertTrue(server.log().contains("TLS handshake failed"), server.log());
    }

    @Test
    void nbdcopyAndQemuImgWorkOverTls() throws Exception {
        Tool.require("nbdcopy");
        Tool.require("qemu-img");
        Path copy = dir.resolve("copy.raw");
        Tool.run("nbdcopy", "-C", "2", tlsUri(pki), copy.toString()).ok();
        assertEquals(-1, Files.mismatch(copy, dir.resolve("disk.raw")));
        Tool.run("nbdcopy", copy.toString(), tlsUri(pki)).ok();
        URI uri = URI.create(server.uri());
        Tool.run("qemu-img", "compare", "--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + pki,
                "--image-opts", "driver=nbd,host=127.0.0.1,port=" + uri.getPort() + ",tls-creds=tls0",
                "driver=file,filename=" + copy).ok();
    }

    /** The reference checksum tool reads a TLS export too, and agrees with itself on the file. */
    @Test
    void theChecksumToolReadsAnExportOverTls() throws Exception {
        String fleeced = FleecedProcess.checkout().resolve("bin/fleeced").toString();
        String ofFile = Tool.run(fleeced, "checksum", dir.resolve("disk.raw").toString()).ok().output().split(" ")[0];
        Tool overTls = Tool.run(fleeced, "checksum", server.uri(), "--tls-ca", pki.resolve("ca-cert.pem").toString(),
                "--tls-cert", pki.resolve("client-cert.pem").toString(),
                "--tls-key", pki.resolve("client-key.pem").toString()).ok();
        assertEquals(ofFile, overTls.output().split(" ")[0], overTls.output());

        Tool withoutCa = Tool.run(fleeced, "checksum", server.uri());
        assertEquals(2, withoutCa.exit(), withoutCa.output());
        assertTrue(withoutCa.output().contains("--tls-ca"), withoutCa.output());
    }
}
