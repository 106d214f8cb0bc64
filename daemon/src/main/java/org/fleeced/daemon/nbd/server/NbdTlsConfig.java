package org.fleeced.daemon.nbd.server;

import java.nio.file.Path;
import java.util.Objects;

/**
 * X.509 TLS for NBD_OPT_STARTTLS.
 *
 * @param certificate   PEM server certificate (chain)
 * @param privateKey    PEM private key of the certificate
 * @param clientCa      PEM CA that client certificates must chain to, or null
 * @param verifyClient  require a client certificate signed by {@code clientCa}
 * @param required      refuse every option but STARTTLS and ABORT before TLS (NBD_REP_ERR_TLS_REQD)
 */
public record NbdTlsConfig(Path certificate, Path privateKey, Path clientCa, boolean verifyClient, boolean required) {
    public NbdTlsConfig {
        Objects.requireNonNull(certificate, "certificate");
        Objects.requireNonNull(privateKey, "privateKey");
        if (verifyClient && clientCa == null) {
            throw new IllegalArgumentException("verifying client certificates needs a CA");
        }
    }
}
