package org.fleeced.it;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A bare NBD client on a socket, for hostile input no real client sends: it does the fixed
 * newstyle handshake with {@code NBD_OPT_EXPORT_NAME} (NBD proto "Fixed newstyle negotiation") and
 * then lets the test write any bytes, whole or truncated requests included.
 */
final class RawNbdConnection implements AutoCloseable {
    static final int REQUEST_MAGIC = 0x25609513;
    static final int SIMPLE_REPLY_MAGIC = 0x67446698;
    static final short CMD_READ = 0;
    static final short CMD_WRITE = 1;
    static final short CMD_TRIM = 4;
    private static final long IHAVEOPT = 0x49484156454F5054L;
    private static final int OPT_EXPORT_NAME = 1;
    private static final int FLAG_FIXED_NEWSTYLE_AND_NO_ZEROES = 3;

    final Socket socket;
    final DataInputStream in;
    final DataOutputStream out;
    final long size;

    private RawNbdConnection(Socket socket, long size) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = new DataOutputStream(socket.getOutputStream());
        this.size = size;
    }

    static RawNbdConnection open(int port, String export) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(20_000);
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        in.readLong();
        if (in.readLong() != IHAVEOPT) {
            throw new IOException("not a newstyle NBD server");
        }
        in.readShort();
        out.writeInt(FLAG_FIXED_NEWSTYLE_AND_NO_ZEROES);
        byte[] name = export.getBytes(StandardCharsets.UTF_8);
        out.writeLong(IHAVEOPT);
        out.writeInt(OPT_EXPORT_NAME);
        out.writeInt(name.length);
        out.write(name);
        out.flush();
        long size = in.readLong();
        in.readShort();
        return new RawNbdConnection(s, size);
    }

    /** The 28-byte request header (NBD proto "Request message"). */
    static byte[] request(short type, long cookie, long offset, int length) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(28);
        b.putInt(REQUEST_MAGIC).putShort((short) 0).putShort(type).putLong(cookie).putLong(offset).putInt(length);
        return b.array();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
