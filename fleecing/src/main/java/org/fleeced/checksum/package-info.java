/**
 * The block checksum of a disk image (issue 15): what a backup is compared with.
 *
 * <pre>
 *   disk:    | block 0 | block 1 | ... | block n-1 (may be short) |
 *               sha256    sha256          sha256        (a zero block: the precomputed digest)
 *   checksum = hex(sha256(digest 0 || digest 1 || ... || digest n-1))
 * </pre>
 *
 * {@link org.fleeced.checksum.BlockChecksum} states the construction; {@link org.fleeced.checksum.ChecksumRun}
 * computes it over any {@link org.fleeced.block.BlockNode} (an image, a snapshot, an NBD export), in
 * parallel, skipping what block status reports as zero. Nothing here knows REST or NBD.
 */
package org.fleeced.checksum;
