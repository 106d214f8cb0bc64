package org.fleeced.checksum;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.Extent;

/**
 * One computation of a {@link BlockChecksum} over a node, in parallel.
 *
 * <h2>Mechanism</h2>
 * The disk is walked in batches of {@link #BATCH_BYTES}; a batch is cut into chunks of
 * {@link #CHUNK_BYTES} (or one block when blocks are larger), which {@code threads} workers take
 * in any order. A worker asks the block status of its chunk, gives every block inside a zero
 * extent the precomputed zero digest without reading it, reads each run of other blocks in one
 * call, and hashes each block (a block whose bytes are all zero gets the zero digest too: the
 * comparison is cheaper than SHA-256). The digests of a batch land in one array in block order;
 * once every chunk of the batch is done, the caller's thread feeds them to the final SHA-256, so
 * memory stays at one batch's digests whatever the disk's size.
 *
 * <p>Progress ({@link #doneBytes()}) counts the bytes of finished chunks. {@link #cancel()} (the
 * REST client went away) makes workers stop at their next block run, and {@link #run()} throw
 * {@link CancellationException}.
 */
public final class ChecksumRun {
    static final int BATCH_BYTES = 64 << 20;
    static final int CHUNK_BYTES = 1 << 20;

    /** What a finished run found: the checksum and how many bytes were skipped as zero. */
    public record Result(String algorithm, int blockSize, String checksum, long sizeBytes, long zeroBytes) {
    }

    private final BlockNode source;
    private final BlockChecksum construction;
    private final int threads;
    private final long sizeBytes;
    private final int chunkBytes;
    private final byte[] zeroDigest;
    private final LongAdder doneBytes = new LongAdder();
    private final LongAdder zeroBytes = new LongAdder();
    private volatile boolean cancelled;

    public ChecksumRun(BlockNode source, BlockChecksum construction, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, not " + threads);
        }
        this.source = source;
        this.construction = construction;
        this.threads = threads;
        this.sizeBytes = source.size();
        this.chunkBytes = Math.max(construction.blockSize(), CHUNK_BYTES);
        this.zeroDigest = BlockChecksum.zeroDigest(construction.blockSize());
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    /** Bytes checksummed so far. */
    public long doneBytes() {
        return doneBytes.sum();
    }

    /** Stops the run: {@link #run()} throws {@link CancellationException} soon after. */
    public void cancel() {
        cancelled = true;
    }

    public Result run() throws BlockIOException, InterruptedException {
        MessageDigest whole = BlockChecksum.sha256();
        long batchBytes = Math.max(BATCH_BYTES, chunkBytes);
        AtomicInteger threadNumber = new AtomicInteger();
        ExecutorService workers = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "checksum-" + threadNumber.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            for (long batch = 0; batch < sizeBytes; batch += batchBytes) {
                long end = Math.min(sizeBytes, batch + batchBytes);
                byte[] digests = new byte[(int) construction.blockCount(end - batch) * BlockChecksum.DIGEST_BYTES];
                List<Future<Void>> chunks = new ArrayList<>();
                for (long chunk = batch; chunk < end; chunk += chunkBytes) {
                    long from = chunk;
                    long to = Math.min(end, chunk + chunkBytes);
                    long firstBlock = (from - batch) / construction.blockSize();
                    chunks.add(workers.submit(() -> {
                        checksumChunk(from, to, digests, (int) firstBlock);
                        return null;
                    }));
                }
                awaitAll(chunks);
                whole.update(digests);
            }
        } finally {
            workers.shutdownNow();
        }
        return new Result(BlockChecksum.ALGORITHM, construction.blockSize(), BlockChecksum.hex(whole.digest()),
                sizeBytes, zeroBytes.sum());
    }

    private void awaitAll(List<Future<Void>> chunks) throws BlockIOException, InterruptedException {
        try {
            for (Future<Void> f : chunks) {
                f.get();
            }
        } catch (ExecutionException e) {
            chunks.forEach(f -> f.cancel(true));
            switch (e.getCause()) {
                case BlockIOException b -> throw b;
                case CancellationException c -> throw c;
                case RuntimeException r -> throw r;
                case Error err -> throw err;
                default -> throw new IllegalStateException(e.getCause());
            }
        } catch (InterruptedException e) {
            chunks.forEach(f -> f.cancel(true));
            throw e;
        }
    }

    /** Fills the digests of the blocks of {@code [from, to)}, the first at {@code firstBlock} of the batch. */
    private void checksumChunk(long from, long to, byte[] digests, int firstBlock) throws BlockIOException {
        List<Extent> zeroes = zeroExtents(from, to);
        MessageDigest sha = BlockChecksum.sha256();
        ByteBuffer buffer = ByteBuffer.allocate((int) (to - from));
        int blockSize = construction.blockSize();
        long pos = from;
        int block = firstBlock;
        while (pos < to) {
            if (cancelled) {
                throw new CancellationException("checksum cancelled");
            }
            int length = (int) Math.min(blockSize, to - pos);
            if (coveredByZero(zeroes, pos, pos + length)) {
                putZeroDigest(digests, block, length);
                zeroBytes.add(length);
                pos += length;
                block++;
                continue;
            }
            long runEnd = pos + length;
            while (runEnd < to && !coveredByZero(zeroes, runEnd, Math.min(to, runEnd + blockSize))) {
                runEnd = Math.min(to, runEnd + blockSize);
            }
            int runBytes = (int) (runEnd - pos);
            buffer.clear().limit(runBytes);
            readFully(pos, buffer);
            byte[] bytes = buffer.array();
            for (int off = 0; off < runBytes; off += blockSize, block++) {
                int n = Math.min(blockSize, runBytes - off);
                if (allZero(bytes, off, n)) {
                    putZeroDigest(digests, block, n);
                    zeroBytes.add(n);
                } else {
                    sha.update(bytes, off, n);
                    System.arraycopy(sha.digest(), 0, digests, block * BlockChecksum.DIGEST_BYTES,
                            BlockChecksum.DIGEST_BYTES);
                }
            }
            pos = runEnd;
        }
        doneBytes.add(to - from);
    }

    private void putZeroDigest(byte[] digests, int block, int length) {
        byte[] digest = length == construction.blockSize() ? zeroDigest : BlockChecksum.zeroDigest(length);
        System.arraycopy(digest, 0, digests, block * BlockChecksum.DIGEST_BYTES, BlockChecksum.DIGEST_BYTES);
    }

    /** Reads in calls the node accepts (at most its maxRequestBytes each). */
    private void readFully(long offset, ByteBuffer dst) throws BlockIOException {
        int max = source.capabilities().maxRequestBytes();
        int end = dst.limit();
        long pos = offset;
        while (dst.position() < end) {
            int n = Math.min(max, end - dst.position());
            ByteBuffer piece = dst.slice(dst.position(), n);
            source.read(pos, piece);
            dst.position(dst.position() + n);
            pos += n;
        }
    }

    /** The extents of {@code [from, to)} that read as zeroes, in order. */
    private List<Extent> zeroExtents(long from, long to) throws BlockIOException {
        List<Extent> zeroes = new ArrayList<>();
        long pos = from;
        while (pos < to) {
            List<Extent> extents = source.blockStatus(pos, to - pos);
            for (Extent e : extents) {
                if (e.zero()) {
                    zeroes.add(e);
                }
            }
            pos = Math.min(to, extents.getLast().end());
        }
        return zeroes;
    }

    /** True when consecutive zero extents cover all of {@code [start, end)}. */
    static boolean coveredByZero(List<Extent> zeroes, long start, long end) {
        long pos = start;
        for (Extent e : zeroes) {
            if (e.end() <= pos) {
                continue;
            }
            if (e.offset() > pos) {
                return false;
            }
            pos = e.end();
            if (pos >= end) {
                return true;
            }
        }
        return false;
    }

    private static final byte[] ZEROES = new byte[BlockChecksum.MAX_BLOCK_SIZE];

    private static boolean allZero(byte[] bytes, int off, int length) {
        return Arrays.mismatch(bytes, off, off + length, ZEROES, 0, length) < 0;
    }
}
