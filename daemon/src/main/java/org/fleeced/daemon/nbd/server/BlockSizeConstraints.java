package org.fleeced.daemon.nbd.server;

import org.fleeced.block.Capabilities;

/**
 * NBD_INFO_BLOCK_SIZE of an export (NBD proto "Block size constraints"), derived from the node:
 * minimum = the node's request alignment (at most 64 KiB), preferred = its preferred size (at least
 * 512 and the minimum), maximum payload = its largest request, at most 32 MiB.
 */
public record BlockSizeConstraints(int minimum, int preferred, int maximumPayload) {
    public static final int MAX_PAYLOAD_BYTES = 32 << 20;
    private static final int MAX_MINIMUM = 64 << 10;

    public static BlockSizeConstraints of(Capabilities capabilities) {
        int minimum = Math.min(capabilities.requestAlignment(), MAX_MINIMUM);
        int preferred = Math.max(Math.max(capabilities.preferredSize(), 512), minimum);
        int maximum = Math.max(Math.min(capabilities.maxRequestBytes(), MAX_PAYLOAD_BYTES), preferred);
        return new BlockSizeConstraints(minimum, preferred, maximum);
    }
}
