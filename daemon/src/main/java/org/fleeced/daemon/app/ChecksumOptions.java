package org.fleeced.daemon.app;

import org.fleeced.checksum.BlockChecksum;

/**
 * The command line of {@code fleeced checksum}, parsed and checked; see {@link ChecksumCommand}.
 *
 * @param source    an image file or an NBD URI
 * @param format    raw or qcow2 for a file, null to detect it
 * @param blockSize the checksum's block size
 * @param json      print the REST answer's JSON instead of {@code CHECKSUM  SOURCE}
 */
record ChecksumOptions(String source, String format, int blockSize, boolean json) {

    static final String USAGE = """
            usage: fleeced checksum FILE|NBD-URI [--block-size N] [--format raw|qcow2] [--json]
              checksum the block checksum of an image or an NBD export (nbd://HOST[:PORT]/EXPORT,
                       nbd+unix:///EXPORT?socket=PATH), as GET .../checksum computes it
            """;

    static ChecksumOptions parse(String[] args) throws UsageException {
        String source = null;
        String format = null;
        int blockSize = BlockChecksum.DEFAULT_BLOCK_SIZE;
        boolean json = false;
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "--block-size" -> blockSize = blockSize(value(args, ++i, arg));
                case "--format", "-f" -> format = value(args, ++i, arg);
                case "--json" -> json = true;
                default -> {
                    if (arg.startsWith("-") || source != null) {
                        throw new UsageException("unknown option '" + arg + "' for 'fleeced checksum'");
                    }
                    source = arg;
                }
            }
        }
        if (source == null) {
            throw new UsageException("'fleeced checksum' needs a FILE or an NBD URI");
        }
        if (format != null && !format.equals("raw") && !format.equals("qcow2")) {
            throw new UsageException("--format must be raw or qcow2, not '" + format + "'");
        }
        return new ChecksumOptions(source, format, blockSize, json);
    }

    private static String value(String[] args, int i, String option) throws UsageException {
        if (i >= args.length) {
            throw new UsageException(option + " needs a value");
        }
        return args[i];
    }

    private static int blockSize(String text) throws UsageException {
        try {
            long n = Long.parseLong(text);
            if (BlockChecksum.validBlockSize(n)) {
                return (int) n;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw new UsageException("--block-size takes a power of two from " + BlockChecksum.MIN_BLOCK_SIZE + " to "
                + BlockChecksum.MAX_BLOCK_SIZE + ", not '" + text + "'");
    }
}
