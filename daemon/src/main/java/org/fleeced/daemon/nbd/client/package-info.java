/**
 * A small NBD client, in Java so that no libnbd is needed: what {@code fleeced checksum NBD-URI}
 * reads with. It speaks the fixed newstyle handshake with structured replies and the
 * {@code base:allocation} context, and offers the export as a read-only
 * {@link org.fleeced.block.BlockNode}, so the block layer's code (a checksum run) reads a remote
 * export exactly as it reads an image.
 *
 * <pre>
 *   ChecksumRun --> NbdClientNode --(one socket, TCP or Unix)--> any NBD server (fleeced, qemu-nbd, nbdkit)
 * </pre>
 *
 * It uses the wire constants of {@code nbd.protocol}, the server's own.
 */
package org.fleeced.daemon.nbd.client;
