package org.fleeced.daemon.nbd.server;

import java.time.Duration;
import java.util.Optional;

/**
 * Limits and security of an NBD server.
 *
 * @param handshakeTimeout    a connection still haggling after this long is closed
 * @param maxConnections      connections beyond this are closed as soon as they are accepted, before
 *                            the greeting, and counted as refused
 * @param maxInFlightBytes    per connection: when the data of requests not yet answered (payloads
 *                            received, read replies being built or sent) reaches this, the server
 *                            stops reading that socket until half of it is answered
 * @param tls                 STARTTLS, when configured
 */
public record NbdServerConfig(Duration handshakeTimeout, int maxConnections, long maxInFlightBytes,
                              Optional<NbdTlsConfig> tls) {

    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_MAX_CONNECTIONS = 100;
    public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = 64L << 20;

    public NbdServerConfig {
        if (maxConnections < 1 || maxInFlightBytes < 1 || handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
            throw new IllegalArgumentException("limits must be positive");
        }
    }

    public static NbdServerConfig defaults() {
        return new NbdServerConfig(DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT_BYTES,
                Optional.empty());
    }

    public NbdServerConfig withTls(NbdTlsConfig tlsConfig) {
        return new NbdServerConfig(handshakeTimeout, maxConnections, maxInFlightBytes, Optional.of(tlsConfig));
    }

    public boolean tlsRequired() {
        return tls.map(NbdTlsConfig::required).orElse(false);
    }
}
