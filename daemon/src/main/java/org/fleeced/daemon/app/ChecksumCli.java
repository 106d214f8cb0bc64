package org.fleeced.daemon.app;

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
                "  fleeced checksum nbd://127.0.0.1:10809/vm1-fleece-1a2b3c4d --block-size 1048576"})
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
        return new ChecksumOptions(source, format, (int) blockSize, json);
    }
}
