package org.fleeced.daemon.nbd.server;

import io.vertx.core.Vertx;
import io.vertx.core.net.ServerSSLOptions;

/**
 * What every connection of one server shares: among it the server-wide in-flight budget.
 * {@code ssl} is null when TLS is not configured.
 */
record ConnectionContext(Vertx vertx, NbdServerConfig config, NbdExportRegistry registry, NbdServerStats stats,
                         ServerInFlightBudget inFlight, ServerSSLOptions ssl) {
}
