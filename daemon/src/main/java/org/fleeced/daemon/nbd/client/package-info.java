/**
 * A small NBD client, in Java so that no libnbd is needed: what {@code fleeced checksum NBD-URI}
 * reads with, and what a push job writes an NBD target with. It speaks the fixed newstyle
 * handshake with structured replies and the {@code base:allocation} context, and offers the export
 * as a {@link org.fleeced.block.BlockNode} (writable when the server allows), so the block layer's
 * code (a checksum run, a push copy) uses a remote export exactly as it uses an image.
 *
 * <pre>
 *   ChecksumRun --> NbdClientNode --(one socket, TCP or Unix)--> any NBD server (fleeced, qemu-nbd, nbdkit)
 *   PushCopy ----^   (writes: WRITE, WRITE_ZEROES, TRIM, FLUSH when the export allows them)
 * </pre>
 *
 * It uses the wire constants of {@code nbd.protocol}, the server's own.
 */
package org.fleeced.daemon.nbd.client;
