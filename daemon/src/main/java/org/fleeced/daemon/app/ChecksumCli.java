package org.fleeced.daemon.app;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.fleeced.checksum.BlockChecksum;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The command line of {@code fleeced checksum}, checked into {@link ChecksumOptions}; see {@link ChecksumCommand}. */
@Command(name = "checksum", mixinStandardHelpOptions = true,
        description = {"The block checksum of an image or an NBD export (nbd://HOST[:PORT]/EXPORT,"
                + " nbd+unix:///EXPORT?socket=PATH), as GET .../checksum computes it: SHA-256 of each block,"
                + " then SHA-256 of the block digests (README, \"Snapshot checksums\")."},
        footer = {"", "Examples:", "  fleeced checksum restored.qcow2 --format qcow2",
                "  fleeced checksum nbd://127.0.0.1:10809/vm1-fleece-1a2b3c4d --block-size 1048576",
                "  fleeced checksum nbds://backup-host:10809/vm1 --tls-ca ca-cert.pem --tls-cert client-cert.pem"
                        + " --tls-key client-key.pem"})
final class ChecksumCli implements Callable<Integer> {
    @Parameters(paramLabel = "FILE|NBD-URI", description = "An image file or an NBD URI.")
    String source;

    @Option(names = "--block-size", paramLabel = "N",
            description = "A power of two from 4096 to 4194304 (default: " + BlockChecksum.DEFAULT_BLOCK_SIZE + ").")
    long blockSize = BlockChecksum.DEFAULT_BLOCK_SIZE;

    @Option(names = {"-f", "--format"}, paramLabel = "raw|qcow2", description = "A file's format (detected when absent).")
    String format;

    @Option(names = "--json", description = "Print {algorithm, blockSize, checksum} as the REST answer has it.")
    boolean json;

    @Option(names = "--tls-ca", paramLabel = "FILE",
            description = "For an nbds:// URI: the CA certificates (PEM) the server's certificate must chain to.")
    Path tlsCa;

    @Option(names = "--tls-cert", paramLabel = "FILE",
            description = "For an nbds:// URI: this client's certificate (PEM), for a server that asks for one.")
    Path tlsCert;

    @Option(names = "--tls-key", paramLabel = "FILE", description = "The private key (PEM) of --tls-cert.")
    Path tlsKey;

    @Override
    public Integer call() throws Exception {
        return ChecksumCommand.run(options());
    }

    ChecksumOptions options() throws UsageException {
        if (!BlockChecksum.validBlockSize(blockSize)) {
            throw new UsageException("--block-size takes a power of two from " + BlockChecksum.MIN_BLOCK_SIZE + " to "
                    + BlockChecksum.MAX_BLOCK_SIZE + ", not " + blockSize);
        }
        if (format != null && !format.equals("raw") && !format.equals("qcow2")) {
            throw new UsageException("--format must be raw or qcow2, not '" + format + "'");
        }
        if ((tlsCert == null) != (tlsKey == null)) {
            throw new UsageException("--tls-cert and --tls-key go together");
        }
        boolean tlsUri = source != null && source.startsWith("nbds");
        if (tlsUri && tlsCa == null) {
            throw new UsageException("an nbds:// URI needs --tls-ca: the CA certificates the server's certificate is"
                    + " checked against");
        }
        if (!tlsUri && (tlsCa != null || tlsCert != null)) {
            throw new UsageException("the --tls options are for an nbds:// URI, not " + source);
        }
        return new ChecksumOptions(source, format, (int) blockSize, json,
                tlsUri ? new ChecksumOptions.Tls(tlsCa, tlsCert, tlsKey) : null);
    }
}
