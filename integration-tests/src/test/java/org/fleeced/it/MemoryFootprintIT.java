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
 * The daemon as an operator starts it ({@code bin/fleeced daemon}, the launcher's JVM defaults, as
 * every {@link DaemonUnderTest} that sets no {@code FLEECED_JAVA_OPTS})
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
class MemoryFootprintIT {
    private static final long IDLE_BOUND_KIB = 256 * 1024;
    private static final long LOAD_BOUND_KIB = 384 * 1024;
    private static final long DISK_BYTES = 256L << 20;

    @TempDir
    Path dir;

    @Test
    void theLaunchersDefaultsKeepTheDaemonSmallIdleAndUnderLoad() throws Exception {
        Tool.require("qemu-io", "nbdcopy");
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir.resolve("daemon"))) {
            long pid = daemon.pid();
            assertEquals("java", Files.readString(Path.of("/proc/" + pid + "/comm")).strip(),
                    "the launcher execs java, so its pid is the JVM's");
            long idle = statusKib(pid, "VmRSS");
            assertTrue(idle <= IDLE_BOUND_KIB, "VmRSS once ready " + idle + " KiB > " + IDLE_BOUND_KIB + " KiB");

            RestClient rest = daemon.rest();
            for (String disk : new String[] {"a", "b", "c"}) {
                daemon.createDisk(disk, DISK_BYTES);
                NbdDriver.write(daemon.nbdUri(disk), "-P 0x11 0 64M", "-P 0x22 128M 16M");
            }
            JsonNode job = rest.startJob(RestClient.jobRequest("c1", "a"));
            NbdDriver.write(daemon.nbdUri("a"), "-P 0x33 0 32M", "-P 0x44 200M 8M");
            NbdDriver.copy(job.get("disks").get(0).get("uri").asText(), dir.resolve("a-backup.raw"));
            NbdDriver.copy(daemon.nbdUri("b"), dir.resolve("b-copy.raw"));
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
