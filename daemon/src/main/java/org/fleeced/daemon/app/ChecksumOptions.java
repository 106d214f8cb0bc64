package org.fleeced.daemon.app;

import java.nio.file.Path;

/**
 * What {@code fleeced checksum} was asked to do, checked ({@link ChecksumCli}); see {@link ChecksumCommand}.
 *
 * @param source    an image file or an NBD URI
 * @param format    raw or qcow2 for a file, null to detect it
 * @param blockSize the checksum's block size
 * @param json      print the REST answer's JSON instead of {@code CHECKSUM  SOURCE}
 * @param tls       the credentials for an {@code nbds://} source, else null
 */
record ChecksumOptions(String source, String format, int blockSize, boolean json, Tls tls) {
    /** The CA to check the server against, and this client's certificate and key (both null for none). */
    record Tls(Path caFile, Path certFile, Path keyFile) {
    }
}
