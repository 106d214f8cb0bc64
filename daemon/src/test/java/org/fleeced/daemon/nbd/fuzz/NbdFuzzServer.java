package org.fleeced.daemon.nbd.fuzz;

import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.List;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.block.ContractCheckingNode;
import org.fleeced.block.testing.MemoryNode;
import org.fleeced.daemon.nbd.server.ExtentStatusContext;
import org.fleeced.daemon.nbd.server.NbdExport;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.daemon.nbd.server.NbdServer;
import org.fleeced.daemon.nbd.server.NbdServerConfig;
import org.fleeced.qcow2.ImageOpener;
import org.fleeced.qcow2.Qcow2CreateOptions;
import org.fleeced.qcow2.Qcow2Creator;

/**
 * The server the fuzzer attacks: in process, on an ephemeral port, with the kinds of export the
 * daemon publishes, each node wrapped in the block layer's contract checker so that a request the
 * server lets through against the node contract fails the run:
 *
 * <pre>
 *   ""        writable, 1 MiB memory, 1-byte minimum block, base:allocation
 *   "rw"      writable, 1 MiB memory, 512-byte minimum block, base:allocation + qemu:allocation-depth
 *   "ro"      read-only, 1 MiB memory
 *   "fleece"  read-only with TRIM allowed (a fleece export), 1 MiB memory
 *   "qcow2"   writable, a real 1 MiB qcow2 image in a temp directory, both contexts
 * </pre>
 */
final class NbdFuzzServer implements AutoCloseable {
    static final int SIZE = 1 << 20;

    private final Vertx vertx = Vertx.vertx();
    private final BlockNode qcow2;
    final NbdServer server;
    final int port;

    NbdFuzzServer(Path dir) throws BlockIOException {
        NbdExportRegistry registry = new NbdExportRegistry();
        registry.register(NbdExport.writable("", new ContractCheckingNode(new MemoryNode(SIZE, true, 1))));
        BlockNode rw = new ContractCheckingNode(new MemoryNode(SIZE, true, 512));
        registry.register(new NbdExport("rw", "writable", rw, false, false, true,
                List.of(ExtentStatusContext.baseAllocation(rw), ExtentStatusContext.allocationDepth(rw))));
        registry.register(NbdExport.readOnly("ro", new ContractCheckingNode(new MemoryNode(SIZE, false, 1))));
        BlockNode fleece = new ContractCheckingNode(new MemoryNode(SIZE, true, 1));
        registry.register(new NbdExport("fleece", "", fleece, true, true, true,
                List.of(ExtentStatusContext.baseAllocation(fleece))));
        Path image = dir.resolve("fuzz.qcow2");
        Qcow2Creator.create(image, Qcow2CreateOptions.of(SIZE));
        qcow2 = new ContractCheckingNode(ImageOpener.open(image, ImageOpener.Format.QCOW2, false));
        registry.register(new NbdExport("qcow2", "", qcow2, false, false, true,
                List.of(ExtentStatusContext.baseAllocation(qcow2), ExtentStatusContext.allocationDepth(qcow2))));
        server = NbdServer.create(vertx, registry, NbdServerConfig.defaults());
        port = server.listenTcp("127.0.0.1", 0).await();
    }

    @Override
    public void close() throws BlockIOException {
        server.close().await();
        vertx.close().await();
        qcow2.close();
    }
}
