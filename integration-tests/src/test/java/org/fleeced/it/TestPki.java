package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * X.509 certificates made with openssl for the TLS scenarios: a CA and, signed by it, a server
 * certificate for {@code localhost} / {@code 127.0.0.1} and a client certificate, in one directory
 * under the file names libnbd and QEMU's {@code tls-creds-x509} look for ({@code ca-cert.pem},
 * {@code server-cert.pem}, {@code server-key.pem}, {@code client-cert.pem}, {@code client-key.pem}).
 * EC keys (gnutls clients do not present an RSA client certificate to the JDK's TLS 1.3 server),
 * PKCS#8 PEM as OpenSSL 3 writes them.
 */
final class TestPki {
    private TestPki() {
    }

    /** Makes a CA named {@code caName} and its server and client certificates in {@code dir}. */
    static Path create(Path dir, String caName) throws Exception {
        Tool.require("openssl");
        Files.createDirectories(dir);
        openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "ca-key.pem", "-out", "ca-cert.pem", "-days", "2", "-subj", "/CN=" + caName);
        issue(dir, "server", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
        issue(dir, "client", "/CN=backup client", "extendedKeyUsage=clientAuth\n");
        return dir;
    }

    private static void issue(Path dir, String who, String subject, String extensions) throws Exception {
        Files.writeString(dir.resolve(who + ".ext"), extensions);
        openssl(dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", who + "-key.pem", "-out", who + ".csr", "-subj", subject);
        openssl(dir, "x509", "-req", "-in", who + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                "-out", who + "-cert.pem", "-days", "2", "-extfile", who + ".ext");
    }

    private static void openssl(Path dir, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add("openssl");
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
    }
}
