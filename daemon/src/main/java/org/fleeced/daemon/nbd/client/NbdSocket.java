package org.fleeced.daemon.nbd.client;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * The bytes of one NBD session: a TCP or Unix socket, upgraded in place to TLS after
 * NBD_OPT_STARTTLS (NBD proto "TLS support": the TLS handshake runs on the same connection).
 *
 * <p>One thread may read while another writes (the request pipeline does), never two of either.
 */
final class NbdSocket implements AutoCloseable {
    private final AutoCloseable connection;
    /** The TCP socket, which TLS can be layered on; null for a Unix socket. */
    private final Socket tcp;
    private final InputStream in;
    private final OutputStream out;

    private NbdSocket(AutoCloseable connection, Socket tcp, InputStream in, OutputStream out) {
        this.connection = connection;
        this.tcp = tcp;
        this.in = in;
        this.out = out;
    }

    /** Connects in plain text; TCP with Nagle off, since requests are small and answered one by one. */
    static NbdSocket connect(NbdUri uri) throws IOException {
        if (uri.address() instanceof UnixDomainSocketAddress unix) {
            SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                channel.connect(unix);
            } catch (IOException e) {
                channel.close();
                throw e;
            }
            return new NbdSocket(channel, null, Channels.newInputStream(channel), Channels.newOutputStream(channel));
        }
        InetSocketAddress named = (InetSocketAddress) uri.address();
        Socket socket = new Socket();
        try {
            socket.setTcpNoDelay(true);
            socket.connect(new InetSocketAddress(named.getHostString(), named.getPort()));
            return new NbdSocket(socket, socket, socket.getInputStream(), socket.getOutputStream());
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * Runs the TLS handshake over this connection (after the server's ACK to NBD_OPT_STARTTLS) and
     * answers the encrypted session; the server's certificate must chain to the context's trust
     * and name {@code host} (HTTPS endpoint identification: a subjectAltName DNS or IP entry).
     */
    NbdSocket startTls(SSLContext context, String host) throws IOException {
        if (tcp == null) {
            throw new IOException("TLS over a Unix socket is not offered");
        }
        SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(tcp, host, tcp.getPort(), true);
        SSLParameters parameters = tls.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        tls.setSSLParameters(parameters);
        tls.setUseClientMode(true);
        tls.startHandshake();
        return new NbdSocket(tls, tls, tls.getInputStream(), tls.getOutputStream());
    }

    /** Reads exactly {@code n} bytes, or throws EOFException when the server closed first. */
    ByteBuffer readExactly(int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length < n) {
            throw new EOFException("the server closed the connection");
        }
        return ByteBuffer.wrap(b);
    }

    /** Reads exactly {@code dst.remaining()} bytes into {@code dst}. */
    void readFully(ByteBuffer dst) throws IOException {
        if (dst.hasArray()) {
            int n = dst.remaining();
            if (in.readNBytes(dst.array(), dst.arrayOffset() + dst.position(), n) < n) {
                throw new EOFException("the server closed the connection");
            }
            dst.position(dst.position() + n);
        } else {
            dst.put(readExactly(dst.remaining()));
        }
    }

    /** Writes the buffers' remaining bytes, in order, then flushes. */
    void write(ByteBuffer... buffers) throws IOException {
        for (ByteBuffer b : buffers) {
            if (b.hasArray()) {
                out.write(b.array(), b.arrayOffset() + b.position(), b.remaining());
                b.position(b.limit());
            } else {
                byte[] chunk = new byte[Math.min(b.remaining(), 1 << 20)];
                while (b.hasRemaining()) {
                    int n = Math.min(chunk.length, b.remaining());
                    b.get(chunk, 0, n);
                    out.write(chunk, 0, n);
                }
            }
        }
        out.flush();
    }

    @Override
    public void close() {
        try {
            connection.close();
        } catch (Exception e) {
            // already gone: nothing is left to release
        }
    }
}
