package org.fleeced.daemon.app;

import io.vertx.core.Vertx;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import org.fleeced.block.BlockIOException;
import org.fleeced.block.BlockNode;
import org.fleeced.daemon.nbd.server.DirtyBitmapContext;
import org.fleeced.disk.ActiveDisk;
import org.fleeced.disk.DiskOpener;
import org.fleeced.disk.DiskSpec;
import org.fleeced.qcow2.ImageOpener;
import org.fleeced.qcow2.bitmap.PersistentBitmaps;
import org.fleeced.daemon.nbd.server.ExtentStatusContext;
import org.fleeced.daemon.nbd.server.MetaContextSource;
import org.fleeced.daemon.nbd.server.NbdExport;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.daemon.nbd.server.NbdServer;
import org.fleeced.daemon.nbd.server.NbdServerConfig;
import picocli.CommandLine;

/**
 * {@code fleeced serve IMAGE}: one image on one NBD export, in the style of qemu-nbd, for people
 * and tests. Prints the export's NBD URI on stdout (one line) once it accepts connections, and on
 * SIGTERM or SIGINT closes the server and then the image, and exits 0.
 */
final class ServeCommand {
    private static final Logger LOG = Logger.getLogger("org.fleeced.daemon.serve");
    /** The served image's disk name (the export has its own). */
    private static final String DISK_NAME = "served";

    private ServeCommand() {
    }

    /** Runs until {@code stop} is requested (by SIGTERM or SIGINT when it is {@link StopSignal#install installed}). */
    static int run(String[] args, StopSignal stop) throws Exception {
        return run(CommandLine.populateCommand(new ServeCli(), args).options(), stop);
    }

    /** Runs until {@code stop} is requested. */
    static int run(ServeOptions options, StopSignal stop) throws Exception {
        ActiveDisk disk = openImage(options);
        Vertx vertx = Vertx.vertx();
        try {
            NbdExportRegistry registry = new NbdExportRegistry();
            registry.register(export(options, disk));
            NbdServerConfig config = NbdServerConfig.defaults().withHandshakeTimeout(options.handshakeTimeout())
                    .withMaxConnections(options.maxConnections()).withTls(options.tls());
            NbdServer server = NbdServer.create(vertx, registry, config);
            String uri;
            if (options.socket() != null) {
                Listening.await("NBD", "unix socket " + options.socket(), server.listenUnix(options.socket()));
                uri = unixUri(options);
            } else {
                int port = Listening.await("NBD", options.bind() + ":" + options.port(),
                        server.listenTcp(options.bind(), options.port()));
                uri = tcpUri(options, port);
            }
            System.out.append(uri).append('\n').flush();

            LOG.info("stopping: " + stop.await());
            server.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
            disk.close();
        }
        LOG.info("stopped cleanly");
        return 0;
    }

    private static NbdExport export(ServeOptions options, ActiveDisk disk) throws UsageException {
        BlockNode node = disk.exportNode();
        List<MetaContextSource> contexts = new ArrayList<>();
        contexts.add(ExtentStatusContext.baseAllocation(node));
        if (options.allocationDepth()) {
            contexts.add(ExtentStatusContext.allocationDepth(node));
        }
        for (String name : options.bitmaps()) {
            PersistentBitmaps bitmaps = disk.persistentBitmaps().orElseThrow(
                    () -> new UsageException("--bitmap " + name + ": only qcow2 images carry persistent bitmaps"));
            try {
                contexts.add(new DirtyBitmapContext(name, bitmaps.get(name)));
            } catch (BlockIOException e) {
                throw new UsageException("--bitmap " + name + ": " + e.getMessage());
            }
        }
        return new NbdExport(options.exportName(), "", node, options.readOnly(), false, true, contexts);
    }

    /**
     * Opens the image in the given or detected format, without checkpoints: a qcow2 image's
     * enabled bitmaps record the writes through the export as QEMU would record them, and are
     * stored there at close.
     */
    private static ActiveDisk openImage(ServeOptions options) throws UsageException, BlockIOException {
        Path image = options.image();
        if (!Files.isRegularFile(image)) {
            throw new UsageException("no image file at " + image);
        }
        ImageOpener.Format format = options.format() != null
                ? ImageOpener.Format.valueOf(options.format().toUpperCase(java.util.Locale.ROOT))
                : ImageOpener.detect(image);
        LOG.info("serving " + image + " (" + format.name().toLowerCase(java.util.Locale.ROOT)
                + (options.readOnly() ? ", read-only" : "") + ")");
        ActiveDisk disk = DiskOpener.open(DiskSpec.of(DISK_NAME, image, format)
                .readOnly(options.readOnly()).withoutCheckpoints());
        Optional<PersistentBitmaps> bitmaps = disk.persistentBitmaps();
        for (String name : options.bitmaps()) {
            if (bitmaps.isPresent() && bitmaps.get().list().stream().noneMatch(b -> b.name().equals(name))) {
                disk.close();
                throw new UsageException("--bitmap " + name + ": " + image + " has no such bitmap");
            }
        }
        return disk;
    }

    private static String tcpUri(ServeOptions options, int port) throws URISyntaxException {
        String host = options.bind().contains(":") ? "[" + options.bind() + "]" : options.bind();
        String scheme = options.tls() != null ? "nbds" : "nbd";
        return scheme + "://" + host + ":" + port + exportPath(options);
    }

    private static String unixUri(ServeOptions options) throws URISyntaxException {
        String scheme = options.tls() != null ? "nbds+unix" : "nbd+unix";
        return scheme + "://" + exportPath(options) + "?socket=" + options.socket().toAbsolutePath();
    }

    private static String exportPath(ServeOptions options) throws URISyntaxException {
        return new URI(null, null, "/" + options.exportName(), null).getRawPath();
    }
}
