package org.fleeced.daemon.app;

/**
 * What {@code fleeced checksum} was asked to do, checked ({@link ChecksumCli}); see {@link ChecksumCommand}.
 *
 * @param source    an image file or an NBD URI
 * @param format    raw or qcow2 for a file, null to detect it
 * @param blockSize the checksum's block size
 * @param json      print the REST answer's JSON instead of {@code CHECKSUM  SOURCE}
 */
record ChecksumOptions(String source, String format, int blockSize, boolean json) {
}
