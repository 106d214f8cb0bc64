package org.fleeced.daemon.app;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    /** What bin/fleeced gives the JVM (-XX:MaxDirectMemorySize=256m). */
    private static final long BIN_FLEECED_DIRECT_MEMORY = 256L << 20;

    @TempDir
    Path dir;

    @Test
    void theEmbeddedDefaultsServeLoopbackAndKeepStateInFleecedData() throws Exception {
        DaemonConfig config = ConfigLoader.load(null).resolved(dir);
        config.validate();
        assertEquals("127.0.0.1", config.rest().bind());
        assertEquals(8580, config.rest().port());
        assertEquals(10809, config.nbd().port());
        assertEquals(dir.resolve("fleeced-data"), config.stateDir());
        assertEquals(dir.resolve("fleeced-data/nbd.sock"), config.nbd().socket());
        assertEquals(List.of(dir.resolve("fleeced-data/images")), config.imageDirs());
        assertEquals(100, config.nbd().maxConnections());
        assertEquals(128L << 20, config.nbd().maxInFlightBytesTotal());
        assertEquals(30, config.nbd().requestTimeoutSeconds());
        assertEquals(false, config.nbd().allowInsecure());
        assertEquals(List.of(), config.startWarnings(BIN_FLEECED_DIRECT_MEMORY));
        assertEquals(300, config.bitmapStoreSeconds());
    }

    @Test
    void aPublicNbdAddressNeedsTlsOrAnExplicitAllowInsecure() throws Exception {
        Path file = dir.resolve("public-nbd.yaml");
        Files.writeString(file, "nbd: {bind: 0.0.0.0}\n");
        UsageException e = assertThrows(UsageException.class, () -> ConfigLoader.load(file).validate());
        assertTrue(e.getMessage().contains("nbd.bind is 0.0.0.0") && e.getMessage().contains("nbd.tls")
                && e.getMessage().contains("nbd.allowInsecure"), e.getMessage());

        Files.writeString(file, "nbd: {bind: 0.0.0.0, tls: {cert: c.pem, key: k.pem}}\n");
        assertThrows(UsageException.class, () -> ConfigLoader.load(file).validate(), "TLS offered but not required");

        Files.writeString(file, "nbd: {bind: 0.0.0.0, allowInsecure: true}\n");
        DaemonConfig insecure = ConfigLoader.load(file);
        insecure.validate();
        List<String> warnings = insecure.startWarnings(BIN_FLEECED_DIRECT_MEMORY);
        assertTrue(warnings.size() == 1 && warnings.getFirst().contains("nbd.allowInsecure"), warnings.toString());

        Files.writeString(file, "nbd: {bind: 0.0.0.0, tls: {cert: c.pem, key: k.pem, required: true, verifyClient: true}}\n");
        DaemonConfig tls = ConfigLoader.load(file);
        tls.validate();
        assertEquals(List.of(), tls.startWarnings(BIN_FLEECED_DIRECT_MEMORY));
    }

    /**
     * Requests in flight keep their data in direct memory: a budget for them above half of what
     * the JVM allows is named at start, with both figures and what to change.
     */
    @Test
    void anInFlightBudgetBeyondHalfTheDirectMemoryIsWarnedAbout() throws Exception {
        Path file = dir.resolve("big-budget.yaml");
        Files.writeString(file, "nbd: {maxInFlightBytesTotal: 268435456}\n");
        DaemonConfig config = ConfigLoader.load(file);
        config.validate();
        List<String> warnings = config.startWarnings(BIN_FLEECED_DIRECT_MEMORY);
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.getFirst().contains("nbd.maxInFlightBytesTotal is 268435456")
                && warnings.getFirst().contains("268435456 bytes of direct memory")
                && warnings.getFirst().contains("-XX:MaxDirectMemorySize"), warnings.getFirst());
        assertEquals(List.of(), config.startWarnings(1L << 30), "with 1 GiB of direct memory");
    }

    @Test
    void aBitmapStoreIntervalOutsideOneSecondToADayIsRefused() throws Exception {
        for (String seconds : List.of("0", "86401")) {
            Path file = dir.resolve("store-" + seconds + ".yaml");
            Files.writeString(file, "bitmapStoreSeconds: " + seconds + "\n");
            UsageException e = assertThrows(UsageException.class, () -> ConfigLoader.load(file).validate());
            assertTrue(e.getMessage().contains("bitmapStoreSeconds"), e.getMessage());
        }
    }

    @Test
    void anNbdBudgetBelowTwoMaximumPayloadsIsRefused() throws Exception {
        Path file = dir.resolve("small.yaml");
        Files.writeString(file, "nbd: {maxInFlightBytesTotal: 1048576}\n");
        UsageException e = assertThrows(UsageException.class, () -> ConfigLoader.load(file).validate());
        assertTrue(e.getMessage().contains("nbd.maxInFlightBytesTotal"), e.getMessage());
    }

    @Test
    void aYamlFileOverridesOnlyWhatItNames() throws Exception {
        Path file = dir.resolve("fleeced.yaml");
        Files.writeString(file, """
                rest:
                  port: 9000
                tokens: [abc]
                imageDirs: [/srv/images]
                disks:
                  - {name: vm1, path: /srv/images/vm1.qcow2}
                """);
        DaemonConfig config = ConfigLoader.load(file).resolved(dir);
        assertEquals(9000, config.rest().port());
        assertEquals("127.0.0.1", config.rest().bind());
        assertEquals(1048576, config.rest().maxBodyBytes());
        assertEquals(List.of("abc"), config.tokens());
        assertEquals(List.of(Path.of("/srv/images")), config.imageDirs());
        assertEquals("vm1", config.disks().getFirst().name());
    }

    @Test
    void jsonWorksToo() throws Exception {
        Path file = dir.resolve("fleeced.json");
        Files.writeString(file, "{\"nbd\": {\"port\": 10900}, \"defaults\": {\"leaseSeconds\": 60}}");
        DaemonConfig config = ConfigLoader.load(file);
        assertEquals(10900, config.nbd().port());
        assertEquals(60, config.defaults().leaseSeconds());
        assertEquals(45, config.defaults().cbwTimeoutSeconds());
    }

    @Test
    void mistakesAreReportedWithTheKey() throws Exception {
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, "rest:\n  prot: 9000\n");
        UsageException e = assertThrows(UsageException.class, () -> ConfigLoader.load(file));
        assertTrue(e.getMessage().contains("prot"), e.getMessage());
        Files.writeString(file, "rest:\n  port: many\n");
        assertThrows(UsageException.class, () -> ConfigLoader.load(file));
        Files.writeString(file, "- a list\n");
        assertThrows(UsageException.class, () -> ConfigLoader.load(file));
    }

    @Test
    void aPublicRestAddressNeedsAToken() throws Exception {
        Path file = dir.resolve("public.yaml");
        Files.writeString(file, "rest: {bind: 0.0.0.0}\n");
        UsageException e = assertThrows(UsageException.class, () -> ConfigLoader.load(file).validate());
        assertTrue(e.getMessage().contains("token"), e.getMessage());
        Files.writeString(file, "rest: {bind: 0.0.0.0}\ntokens: [t]\n");
        ConfigLoader.load(file).validate();
    }
}
