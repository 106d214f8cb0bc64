package org.fleeced.daemon.app;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.daemon.api.JobDefaults;
import org.fleeced.daemon.nbd.client.NbdClientTls;
import org.fleeced.daemon.nbd.server.NbdServerConfig;

/**
 * The daemon's configuration, as read by {@link ConfigLoader} from the embedded
 * {@code default-config.yaml} and an optional file that overrides it key by key.
 * Paths are resolved by {@link #resolved(Path)}; {@link #validate()} refuses what cannot run safely.
 * {@code bitmapStoreSeconds} is how often every disk's bitmaps are stored in its image (or raw
 * sidecar) in the background: the journal and intent marks make them durable without it, so it
 * only bounds how much a recovery replays.
 */
@JsonIgnoreProperties(ignoreUnknown = false)
public record DaemonConfig(
        Path stateDir,
        Rest rest,
        Nbd nbd,
        List<String> tokens,
        List<Path> imageDirs,
        List<Path> tempDirs,
        List<Path> guestAgentDirs,
        List<Path> backupDirs,
        int bitmapStoreSeconds,
        ClientTls nbdClientTls,
        JobDefaults defaults,
        List<DiskSpec> disks) {

    public record Rest(String bind, int port, long maxBodyBytes) {
    }

    /**
     * The NBD server. {@code maxInFlightBytesTotal} bounds the request data of all connections
     * together (payloads as they arrive, read replies); {@code requestTimeoutSeconds} drops a
     * client that stops sending in the middle of a request. NBD has no authentication but TLS, so
     * a non-loopback {@code bind} needs {@code tls.required}, or {@code allowInsecure} to say the
     * operator accepts an open network export.
     */
    public record Nbd(String bind, int port, Path socket, int maxConnections, int handshakeTimeoutSeconds,
            long maxInFlightBytesTotal, int requestTimeoutSeconds, boolean allowInsecure, Tls tls) {
    }

    public record Tls(Path cert, Path key, Path ca, boolean verifyClient, boolean required) {
        public boolean enabled() {
            return cert != null;
        }
    }

    /**
     * What the daemon's NBD client trusts for {@code nbds://} push targets and restore sources: the
     * CA that signs the servers' certificates and, for servers that ask for one, a client
     * certificate and its PKCS#8 key. Relative paths are relative to stateDir.
     */
    public record ClientTls(Path caFile, Path certFile, Path keyFile) {
        ClientTls resolvedAgainst(Path state) {
            return new ClientTls(caFile == null ? null : state.resolve(caFile).normalize(),
                    certFile == null ? null : state.resolve(certFile).normalize(),
                    keyFile == null ? null : state.resolve(keyFile).normalize());
        }

        /** The loaded credentials, or null when no caFile is configured (then nbds:// is refused). */
        public NbdClientTls load() throws UsageException {
            if (caFile == null) {
                if (certFile != null || keyFile != null) {
                    throw new UsageException("nbdClientTls.certFile and keyFile need nbdClientTls.caFile");
                }
                return null;
            }
            try {
                return NbdClientTls.load(caFile, certFile, keyFile);
            } catch (IOException e) {
                throw new UsageException("nbdClientTls: " + e.getMessage());
            }
        }
    }

    /** A disk to attach at start; {@code guestAgent} may be null. */
    public record DiskSpec(String name, Path path, String format, GuestAgent guestAgent) {
    }

    /** The unix socket of a disk's QEMU guest agent; relative to stateDir when relative. */
    public record GuestAgent(Path socket) {
    }

    /** Makes every path absolute: stateDir against {@code workDir}, the rest against stateDir. */
    public DaemonConfig resolved(Path workDir) {
        Path state = workDir.resolve(stateDir).toAbsolutePath().normalize();
        Nbd n = new Nbd(nbd.bind(), nbd.port(), nbd.socket() == null ? null : state.resolve(nbd.socket()),
                nbd.maxConnections(), nbd.handshakeTimeoutSeconds(), nbd.maxInFlightBytesTotal(),
                nbd.requestTimeoutSeconds(), nbd.allowInsecure(), nbd.tls());
        return new DaemonConfig(state, rest, n, tokens,
                imageDirs.stream().map(p -> state.resolve(p).normalize()).toList(),
                tempDirs.stream().map(p -> state.resolve(p).normalize()).toList(),
                guestAgentDirs.stream().map(p -> state.resolve(p).normalize()).toList(),
                backupDirs.stream().map(p -> state.resolve(p).normalize()).toList(),
                bitmapStoreSeconds,
                nbdClientTls.resolvedAgainst(state),
                defaults,
                disks.stream().map(d -> new DiskSpec(d.name(), state.resolve(d.path()).normalize(), d.format(),
                        d.guestAgent() == null ? null : new GuestAgent(state.resolve(d.guestAgent().socket()).normalize())))
                        .toList());
    }

    /** Refuses a configuration that would run unsafely, with a message that says what to change. */
    public void validate() throws UsageException {
        if (tokens.isEmpty() && !isLoopback(rest.bind())) {
            throw new UsageException("rest.bind is " + rest.bind() + ", not a loopback address: configure at least one"
                    + " bearer token under 'tokens', or bind to 127.0.0.1");
        }
        if (!isLoopback(nbd.bind()) && !nbd.tls().required() && !nbd.allowInsecure()) {
            throw new UsageException("nbd.bind is " + nbd.bind() + ", not a loopback address, and NBD without TLS has no"
                    + " authentication: configure nbd.tls (cert, key, required: true), or bind to 127.0.0.1, or set"
                    + " nbd.allowInsecure: true to export every disk to anyone who can reach the port");
        }
        if (defaults.copiesInFlight() < 1 || defaults.copiesInFlight() > 64) {
            throw new UsageException("defaults.copiesInFlight is " + defaults.copiesInFlight() + ": give 1 to 64");
        }
        if (bitmapStoreSeconds < 1 || bitmapStoreSeconds > 86_400) {
            throw new UsageException("bitmapStoreSeconds is " + bitmapStoreSeconds + ": give 1 to 86400");
        }
        if (tempDirs.isEmpty()) {
            throw new UsageException("tempDirs is empty: fleecing jobs need at least one temp directory");
        }
        for (DiskSpec d : disks) {
            if (d.format() == null || !(d.format().equals("qcow2") || d.format().equals("raw"))) {
                throw new UsageException("disks entry '" + d.name() + "' needs format: qcow2 or format: raw"
                        + " (formats are never guessed)");
            }
        }
        if (nbd.tls().enabled() && nbd.tls().key() == null) {
            throw new UsageException("nbd.tls.cert is set but nbd.tls.key is not");
        }
        if (nbd.tls().required() && !nbd.tls().enabled()) {
            throw new UsageException("nbd.tls.required needs nbd.tls.cert and nbd.tls.key");
        }
        if (nbd.maxInFlightBytesTotal() < NbdServerConfig.MIN_IN_FLIGHT_BYTES_TOTAL) {
            throw new UsageException("nbd.maxInFlightBytesTotal is " + nbd.maxInFlightBytesTotal() + ": it must hold at least"
                    + " two maximum NBD payloads, " + NbdServerConfig.MIN_IN_FLIGHT_BYTES_TOTAL + " bytes");
        }
        if (nbd.requestTimeoutSeconds() < 1 || nbd.handshakeTimeoutSeconds() < 1 || nbd.maxConnections() < 1) {
            throw new UsageException("nbd.requestTimeoutSeconds, nbd.handshakeTimeoutSeconds and nbd.maxConnections"
                    + " must be at least 1");
        }
    }

    /** What the operator should hear at every start about a configuration that runs but is risky. */
    public List<String> startWarnings() {
        return startWarnings(DirectMemoryLimit.ofThisJvm());
    }

    /**
     * {@link #startWarnings()} for a JVM that allows {@code directMemoryLimit} bytes of direct
     * memory: the payloads and read replies of NBD requests in flight live there, so a budget for
     * them above half of it lets requests fail with out-of-memory errors (Netty's pool and the
     * sockets need the rest) before the budget holds clients back.
     */
    List<String> startWarnings(long directMemoryLimit) {
        List<String> warnings = new ArrayList<>();
        if (nbd.maxInFlightBytesTotal() > directMemoryLimit / 2) {
            warnings.add("nbd.maxInFlightBytesTotal is " + nbd.maxInFlightBytesTotal() + " bytes, more than half of the "
                    + directMemoryLimit + " bytes of direct memory this JVM allows: NBD requests may fail with"
                    + " out-of-memory errors under load; lower it, or raise -XX:MaxDirectMemorySize (FLEECED_JAVA_OPTS)"
                    + " to at least twice it");
        }
        if (isLoopback(nbd.bind())) {
            return warnings;
        }
        if (!nbd.tls().required()) {
            warnings.add("nbd.allowInsecure is set: NBD on " + nbd.bind() + ":" + nbd.port() + " without TLS; anyone who"
                    + " can reach the port can read and write every disk");
        } else if (!nbd.tls().verifyClient()) {
            warnings.add("NBD on " + nbd.bind() + ":" + nbd.port() + " requires TLS but not client certificates"
                    + " (nbd.tls.verifyClient): traffic is encrypted, but any client may connect");
        }
        return warnings;
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
