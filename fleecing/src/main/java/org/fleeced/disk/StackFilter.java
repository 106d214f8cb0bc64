package org.fleeced.disk;

import java.util.function.UnaryOperator;
import org.fleeced.block.BlockNode;

/**
 * A policy filter of a disk's stack, by name (as QEMU names a filter driver: "dirty-tracking";
 * later "copy-on-read"), and how to build it over whatever lies below it. A disk rebuilds its
 * filters over the image, or over a fleecing job's filter while a job runs, every time its stack
 * changes, so {@code over} must not keep state of its own: the state lives in what it closes
 * over (the checkpoints, the persistent bitmaps). The place of these filters in the stack is
 * drawn in {@link org.fleeced.block}.
 *
 * @param name what the filter is, for logs and {@link ActiveDisk#describe()}
 * @param over builds the filter over its child
 */
public record StackFilter(String name, UnaryOperator<BlockNode> over) {
}
