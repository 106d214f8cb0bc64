package org.fleeced.checksum;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The construction, in full (README "Verifying a backup" says it for other implementers):
 * split the disk into {@code blockSize} blocks from offset 0 (the last one is short when the size
 * is not a multiple), take the SHA-256 of each block's bytes, and the checksum is the lowercase
 * hex SHA-256 of those 32-byte digests concatenated in disk order. A disk of size 0 has no
 * blocks: the checksum is the SHA-256 of nothing.
 *
 * <p>A block that reads as zeroes has the digest of {@code blockSize} zero bytes (or of its own
 * length when it is the short last one): computing it once is what lets a sparse disk checksum at
 * the speed of its block status. The result does not depend on how the zeroes are stored.
 *
 * @param blockSize a power of two from {@link #MIN_BLOCK_SIZE} to {@link #MAX_BLOCK_SIZE}
 */
public record BlockChecksum(int blockSize) {
    public static final String ALGORITHM = "sha256";
    public static final int MIN_BLOCK_SIZE = 4096;
    public static final int MAX_BLOCK_SIZE = 4 << 20;
    public static final int DEFAULT_BLOCK_SIZE = 65536;
    public static final int DIGEST_BYTES = 32;

    public BlockChecksum {
        if (!validBlockSize(blockSize)) {
            throw new IllegalArgumentException("blockSize must be a power of two from " + MIN_BLOCK_SIZE + " to "
                    + MAX_BLOCK_SIZE + ", not " + blockSize);
        }
    }

    public static boolean validBlockSize(long blockSize) {
        return blockSize >= MIN_BLOCK_SIZE && blockSize <= MAX_BLOCK_SIZE && Long.bitCount(blockSize) == 1;
    }

    /** Number of blocks of a disk of {@code sizeBytes}. */
    public long blockCount(long sizeBytes) {
        return (sizeBytes + blockSize - 1) / blockSize;
    }

    /** Bytes of block {@code index} of a disk of {@code sizeBytes}: less than blockSize for a short last one. */
    public int blockLength(long index, long sizeBytes) {
        return (int) Math.min(blockSize, sizeBytes - index * blockSize);
    }

    /** The digest of {@code length} zero bytes. */
    public static byte[] zeroDigest(int length) {
        MessageDigest sha = sha256();
        byte[] zeroes = new byte[Math.min(length, 1 << 16)];
        for (int left = length; left > 0; left -= zeroes.length) {
            sha.update(zeroes, 0, Math.min(left, zeroes.length));
        }
        return sha.digest();
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    public static String hex(byte[] digest) {
        return HexFormat.of().formatHex(digest);
    }
}
