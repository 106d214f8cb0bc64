package org.fleeced.daemon.app;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.fleeced.daemon.nbd.server.NbdTlsConfig;

/** What {@code fleeced serve} was asked to do, checked ({@link ServeCli}); see {@link ServeCommand}. */
record ServeOptions(
        Path image,
        String format,
        boolean readOnly,
        String exportName,
        String bind,
        int port,
        Path socket,
        List<String> bitmaps,
        boolean allocationDepth,
        NbdTlsConfig tls,
        int maxConnections,
        Duration handshakeTimeout) {
}
