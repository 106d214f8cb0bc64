package org.fleeced.daemon.nbd.server;

import java.time.Duration;
import java.util.Optional;

/**
 * Limits and security of an NBD server. Memory is bounded by these values, not by what clients
 * announce: at most {@code maxInFlightBytesTotal} of request data across all connections, plus per
 * connection the slices a socket read hands over while it is being paused.
 *
 * @param handshakeTimeout      a connection still haggling after this long is closed
 * @param maxConnections        connections beyond this are closed as soon as they are accepted,
 *                              before the greeting, and counted as refused
 * @param maxInFlightBytes      per connection: when the data of requests not yet answered (payloads
 *                              received, read replies being built or sent) reaches this, the server
 *                              stops reading that socket until half of it is answered
 * @param maxInFlightBytesTotal across all connections: payload bytes are admitted as they arrive and
 *                              read replies before they are read, within this budget; a connection
 *                              whose payload cannot be admitted is not read until some is released
 *                              (see {@link ServerInFlightBudget}); at least two maximum payloads
 * @param requestTimeout        in transmission, a request whose header or payload is still
 *                              incomplete after this long (while the server reads) drops the
 *                              connection
 * @param tls                   STARTTLS, when configured
 */
public record NbdServerConfig(Duration handshakeTimeout, int maxConnections, long maxInFlightBytes,
                              long maxInFlightBytesTotal, Duration requestTimeout, Optional<NbdTlsConfig> tls) {

    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_MAX_CONNECTIONS = 100;
    public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = 64L << 20;
    public static final long DEFAULT_MAX_IN_FLIGHT_BYTES_TOTAL = 128L << 20;
    public static final long MIN_IN_FLIGHT_BYTES_TOTAL = 2L * BlockSizeConstraints.MAX_PAYLOAD_BYTES;
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(30);

    public NbdServerConfig {
        if (maxConnections < 1 || maxInFlightBytes < 1 || !positive(handshakeTimeout) || !positive(requestTimeout)) {
            throw new IllegalArgumentException("limits must be positive");
        }
        if (maxInFlightBytesTotal < MIN_IN_FLIGHT_BYTES_TOTAL) {
            throw new IllegalArgumentException("maxInFlightBytesTotal must be at least " + MIN_IN_FLIGHT_BYTES_TOTAL
                    + " (two maximum payloads), not " + maxInFlightBytesTotal);
        }
    }

    public static NbdServerConfig defaults() {
        return new NbdServerConfig(DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT_BYTES,
                DEFAULT_MAX_IN_FLIGHT_BYTES_TOTAL, DEFAULT_REQUEST_TIMEOUT, Optional.empty());
    }

    public NbdServerConfig withTls(NbdTlsConfig tlsConfig) {
        return new NbdServerConfig(handshakeTimeout, maxConnections, maxInFlightBytes, maxInFlightBytesTotal,
                requestTimeout, Optional.ofNullable(tlsConfig));
    }

    public NbdServerConfig withHandshakeTimeout(Duration timeout) {
        return new NbdServerConfig(timeout, maxConnections, maxInFlightBytes, maxInFlightBytesTotal, requestTimeout, tls);
    }

    public NbdServerConfig withMaxConnections(int connections) {
        return new NbdServerConfig(handshakeTimeout, connections, maxInFlightBytes, maxInFlightBytesTotal,
                requestTimeout, tls);
    }

    public NbdServerConfig withMaxInFlightBytes(long perConnection, long total) {
        return new NbdServerConfig(handshakeTimeout, maxConnections, perConnection, total, requestTimeout, tls);
    }

    public NbdServerConfig withRequestTimeout(Duration timeout) {
        return new NbdServerConfig(handshakeTimeout, maxConnections, maxInFlightBytes, maxInFlightBytesTotal, timeout, tls);
    }

    public boolean tlsRequired() {
        return tls.map(NbdTlsConfig::required).orElse(false);
    }

    private static boolean positive(Duration duration) {
        return !duration.isNegative() && !duration.isZero();
    }
}
