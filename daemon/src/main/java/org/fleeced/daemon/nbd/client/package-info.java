/**
 * A small NBD client, in Java so that no libnbd is needed: what {@code fleeced checksum NBD-URI}
 * reads with, what instant restore reads an NBD source with, and what a push job writes an NBD
 * target with. It offers the export as a {@link org.fleeced.block.BlockNode} (writable when the
 * server allows), so the block layer's code (a checksum run, a push copy) uses a remote export
 * exactly as it uses an image.
 *
 * <pre>
 *   ChecksumRun --\                 NbdSocket (TCP or Unix; TLS after STARTTLS for nbds://)
 *   PushCopy ------> NbdClientNode --> NbdClientHandshake (options, once) --> any NBD server
 *   RestoreSource -/      |                                                  (fleeced, qemu-nbd, nbdkit)
 *                         \--> RequestPipeline: requests of many threads in flight, one handle each,
 *                              one reader thread hands each reply to its request
 * </pre>
 *
 * <ul>
 *   <li>{@link org.fleeced.daemon.nbd.client.NbdUri}: {@code nbd://}, {@code nbds://}, {@code nbd+unix://}.</li>
 *   <li>{@link org.fleeced.daemon.nbd.client.NbdSocket}: the bytes of one connection, upgraded in place to TLS.</li>
 *   <li>{@link org.fleeced.daemon.nbd.client.NbdClientTls}: the CA (and client certificate) an {@code nbds://}
 *       server is checked with.</li>
 *   <li>{@link org.fleeced.daemon.nbd.client.NbdClientHandshake}: option haggling, STARTTLS first for TLS.</li>
 *   <li>{@link org.fleeced.daemon.nbd.client.RequestPipeline}: the transmission phase.</li>
 * </ul>
 *
 * It uses the wire constants of {@code nbd.protocol}, the server's own.
 */
package org.fleeced.daemon.nbd.client;
