package org.fleeced.block;

import java.io.EOFException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The answer to a read as a range of an open file ({@link BlockNode#fileSpan}): the NBD server
 * sends it to the socket without the bytes passing through this process (sendfile), where a read
 * copies them twice (file to buffer, buffer to socket).
 *
 * <p>The sender calls {@link #release} once the bytes are sent or will not be; only the first call
 * counts, and runs what the node asked for ({@code onRelease}). The file stays open as long as the
 * node is: a node closed while its span is being sent fails that send, and the sender closes the
 * connection, since part of the reply may be out.
 */
public final class FileSpan {
    private final FileChannel channel;
    private final long position;
    private final int length;
    private final Runnable onRelease;
    private final AtomicBoolean released = new AtomicBoolean();

    public FileSpan(FileChannel channel, long position, int length, Runnable onRelease) {
        this.channel = channel;
        this.position = position;
        this.length = length;
        this.onRelease = onRelease;
    }

    public int length() {
        return length;
    }

    /** The same bytes, released through {@code also} as well (a wrapper that counted the span). */
    public FileSpan alsoOnRelease(Runnable also) {
        return new FileSpan(channel, position, length, () -> {
            try {
                release();
            } finally {
                also.run();
            }
        });
    }

    /**
     * Sends at most the rest of the span from {@code sent} bytes into it; returns the bytes sent
     * (0 when the socket is full). A file cut short behind the node's back is an error, not a
     * transfer that never ends.
     */
    public long transferTo(WritableByteChannel target, long sent) throws IOException {
        long n = channel.transferTo(position + sent, length - sent, target);
        if (n == 0 && position + sent >= channel.size()) {
            throw new EOFException("the file ends at " + channel.size() + ", before the " + length
                    + " bytes at " + position + " a read was answered with");
        }
        return n;
    }

    /** Lets the node go; later calls do nothing. */
    public void release() {
        if (released.compareAndSet(false, true)) {
            onRelease.run();
        }
    }
}
