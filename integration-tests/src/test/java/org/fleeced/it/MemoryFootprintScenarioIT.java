package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon as an operator starts it ({@code bin/fleeced daemon}, the launcher's JVM defaults)
 * stays within a daemon's memory: VmRSS of the java process (mapped files included) at most
 * 256 MiB once ready, and its peak (VmHWM) at most 384 MiB after a scripted load. The goals are
 * half of that (128 / 192 MiB, measured by {@code bench/memory.sh}); the bounds here are twice
 * as generous so that a different JDK build or machine does not make the test flaky, and still
 * catch the JVM's own sizing (a quarter of the machine's memory) coming back.
 *
 * <p>The load: three disks attached (created through the API) and written by qemu-io, a full
 * fleecing job on one of them copied out with nbdcopy while qemu-io overwrites the disk (every
 * first touch copies a cluster before the write), a second disk read whole by nbdcopy over its
 * writable export, and the job finished.
 */
class MemoryFootprintScenarioIT {
    private static final long IDLE_BOUND_KIB = 256 * 1024;
    private static final long LOAD_BOUND_KIB = 384 * 1024;
    private static final long DISK_BYTES = 256L << 20;

    @TempDir
    Path dir;

    @Test
    void theLaunchersDefaultsKeepTheDaemonSmallIdleAndUnderLoad() throws Exception {
        NbdClients.requireAll();
        try (ScenarioDaemon daemon = ScenarioDaemon.startWithLauncher(dir.resolve("daemon"))) {
            long pid = daemon.process().process().pid();
            assertEquals("java", Files.readString(Path.of("/proc/" + pid + "/comm")).strip(),
                    "the launcher execs java, so its pid is the JVM's");
            long idle = statusKib(pid, "VmRSS");
            assertTrue(idle <= IDLE_BOUND_KIB, "VmRSS once ready " + idle + " KiB > " + IDLE_BOUND_KIB + " KiB");

            ScenarioRest rest = daemon.rest();
            for (String disk : new String[] {"a", "b", "c"}) {
                rest.create(disk, daemon.image(disk + ".qcow2"), DISK_BYTES);
                NbdClients.write(daemon.uri(disk), "-P 0x11 0 64M", "-P 0x22 128M 16M");
            }
            JsonNode job = rest.startJob(ScenarioRest.job("c1", "a"));
            NbdClients.write(daemon.uri("a"), "-P 0x33 0 32M", "-P 0x44 200M 8M");
            NbdClients.copy(job.get("disks").get(0).get("uri").asText(), dir.resolve("a-backup.raw"));
            NbdClients.copy(daemon.uri("b"), dir.resolve("b-copy.raw"));
            rest.finish(job.get("id").asText(), "success");

            long peak = statusKib(pid, "VmHWM");
            assertTrue(peak <= LOAD_BOUND_KIB, "VmHWM under load " + peak + " KiB > " + LOAD_BOUND_KIB + " KiB");
            assertTrue(daemon.alive(), daemon.log());
        }
    }

    /** A "Key:   N kB" line of /proc/PID/status, in KiB. */
    private static long statusKib(long pid, String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith(key + ":")) {
                return Long.parseLong(line.substring(key.length() + 1).replace("kB", "").strip());
            }
        }
        throw new AssertionError("no " + key + " in /proc/" + pid + "/status");
    }
}
