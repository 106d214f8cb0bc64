package org.fleeced.daemon.app;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.checksum.BlockChecksum;
import org.fleeced.checksum.ChecksumRun;
import org.fleeced.daemon.nbd.client.NbdClientNode;
import org.fleeced.daemon.nbd.client.NbdClientTls;
import org.fleeced.daemon.nbd.client.NbdUri;
import org.fleeced.qcow2.ImageOpener;

/**
 * {@code fleeced checksum FILE|NBD-URI}: the reference implementation of the block checksum
 * ({@link BlockChecksum}) that {@code GET /v1/jobs/{job}/disks/{disk}/checksum} answers, for a
 * restored image, an image at rest or any NBD export. A file is opened read-only in its detected
 * (or given) format, so a qcow2 file is checksummed as the disk it holds; an NBD export is read
 * with the Java client (no libnbd). Prints {@code CHECKSUM  SOURCE} as sha256sum does.
 */
final class ChecksumCommand {
    private ChecksumCommand() {
    }

    static int run(ChecksumOptions options) throws UsageException, BlockIOException, InterruptedException {
        try (BlockNode source = open(options)) {
            ChecksumRun.Result result = new ChecksumRun(source, new BlockChecksum(options.blockSize()),
                    Runtime.getRuntime().availableProcessors()).run();
            String line = options.json()
                    ? String.format(Locale.ROOT, "{\"algorithm\":\"%s\",\"blockSize\":%d,\"checksum\":\"%s\"}",
                            result.algorithm(), result.blockSize(), result.checksum())
                    : result.checksum() + "  " + options.source();
            System.out.append(line).append('\n').flush();
        }
        return 0;
    }

    private static BlockNode open(ChecksumOptions options) throws UsageException, BlockIOException {
        if (NbdUri.looksLikeOne(options.source())) {
            try {
                return options.tls() == null ? NbdClientNode.connect(NbdUri.parse(options.source()))
                        : NbdClientNode.connect(NbdUri.parse(options.source()), tls(options.tls()));
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
        }
        Path file = Path.of(options.source());
        if (!Files.isRegularFile(file)) {
            throw new UsageException("no image file at " + file);
        }
        ImageOpener.Format format = options.format() != null
                ? ImageOpener.Format.valueOf(options.format().toUpperCase(Locale.ROOT))
                : ImageOpener.detect(file);
        return ImageOpener.open(file, format, true);
    }

    private static NbdClientTls tls(ChecksumOptions.Tls tls) throws UsageException {
        try {
            return NbdClientTls.load(tls.caFile(), tls.certFile(), tls.keyFile());
        } catch (IOException | RuntimeException e) {
            throw new UsageException("cannot load the TLS credentials (" + tls.caFile()
                    + (tls.certFile() == null ? "" : ", " + tls.certFile() + ", " + tls.keyFile()) + "): " + e.getMessage());
        }
    }
}
