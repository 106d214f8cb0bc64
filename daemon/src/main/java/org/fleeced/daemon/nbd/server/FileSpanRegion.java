package org.fleeced.daemon.nbd.server;

import io.netty.channel.FileRegion;
import io.netty.util.AbstractReferenceCounted;
import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import org.fleeced.block.FileSpan;

/**
 * A {@link FileSpan} as Netty writes it: the transport moves the bytes from the file to the socket
 * itself (sendfile), and releases the region once it is written or dropped, which releases the
 * span. Unlike Netty's DefaultFileRegion, it never closes the file: the disk's node owns that.
 */
final class FileSpanRegion extends AbstractReferenceCounted implements FileRegion {
    private final FileSpan span;
    private long transferred;

    FileSpanRegion(FileSpan span) {
        this.span = span;
    }

    @Override
    public long position() {
        return 0;
    }

    @Override
    @Deprecated
    public long transfered() {
        return transferred;
    }

    @Override
    public long transferred() {
        return transferred;
    }

    @Override
    public long count() {
        return span.length();
    }

    @Override
    public long transferTo(WritableByteChannel target, long position) throws IOException {
        long n = span.transferTo(target, position);
        transferred += n;
        return n;
    }

    @Override
    protected void deallocate() {
        span.release();
    }

    @Override
    public FileSpanRegion retain() {
        super.retain();
        return this;
    }

    @Override
    public FileSpanRegion retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public FileSpanRegion touch() {
        return this;
    }

    @Override
    public FileSpanRegion touch(Object hint) {
        return this;
    }
}
