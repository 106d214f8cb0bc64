package org.fleeced.daemon.nbd.server;

import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.List;
import org.fleeced.block.ContractCheckingNode;
import org.fleeced.block.testing.ControllableNode;
import org.fleeced.block.testing.MemoryNode;

/**
 * An in-process server on an ephemeral port with three exports over {@link MemoryNode}s, each
 * wrapped in the block layer's contract checker so that a request the server lets through against
 * the node contract fails the test; "ro" has a {@link ControllableNode} on top, to make its reads
 * fail with a chosen errno:
 *
 * <pre>
 *   "rw"     writable, 1 MiB, 512-byte minimum block, base:allocation + qemu:allocation-depth
 *   "ro"     read-only, 1 MiB, base:allocation
 *   "fleece" read-only with TRIM allowed (a fleece export), 1 MiB
 * </pre>
 */
final class ServerFixture implements AutoCloseable {
    static final int SIZE = 1 << 20;

    final Vertx vertx = Vertx.vertx();
    final NbdExportRegistry registry = new NbdExportRegistry();
    final MemoryNode rwNode = new MemoryNode(SIZE, true, 512);
    final MemoryNode roNode = new MemoryNode(SIZE, false, 1);
    final ControllableNode roFaults = new ControllableNode(roNode);
    final MemoryNode fleeceNode = new MemoryNode(SIZE, true, 1);
    final NbdServer server;
    final int port;

    ServerFixture() {
        this(NbdServerConfig.defaults());
    }

    ServerFixture(NbdServerConfig config) {
        var rw = new ContractCheckingNode(rwNode);
        registry.register(new NbdExport("rw", "writable test export", rw, false, false, true,
                List.of(ExtentStatusContext.baseAllocation(rw), ExtentStatusContext.allocationDepth(rw))));
        registry.register(NbdExport.readOnly("ro", new ContractCheckingNode(roFaults)));
        registry.register(new NbdExport("fleece", "", fleeceNode, true, true, true,
                List.of(ExtentStatusContext.baseAllocation(fleeceNode))));
        server = NbdServer.create(vertx, registry, config);
        port = server.listenTcp("127.0.0.1", 0).await();
    }

    static NbdServerConfig withHandshakeTimeout(Duration timeout) {
        return NbdServerConfig.defaults().withHandshakeTimeout(timeout);
    }

    WireClient client() throws java.io.IOException {
        return new WireClient(port).greet();
    }

    @Override
    public void close() {
        server.close().await();
        vertx.close().await();
    }
}
