package org.fleeced.daemon.host;

import static org.fleeced.daemon.host.DiskTableTest.assertRefused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.fleeced.block.WriteFlag;
import org.fleeced.cbw.OnCbwError;
import org.fleeced.checkpoint.BackupOutcome;
import org.fleeced.daemon.app.JobHistoryJson;
import org.fleeced.daemon.nbd.server.NbdExportRegistry;
import org.fleeced.job.TempFormat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link JobTable} over real qcow2 disks, real fleecing stacks and temp images in a temp
 * directory: what a start publishes, what the checkpoint start says about mode and base, how a
 * job ends (by the caller, by its lease), and the reason code of each refusal.
 *
 * <pre>
 *   vm1 export ──▶ tracking ──▶ [CopyBeforeWriteFilter] ──▶ vm1.qcow2
 *                                       │ old clusters
 *                                       ▼
 *   vm1-fleece-XXXX export ──▶ snapshot access ──▶ temp image
 * </pre>
 */
class JobTableTest {
    private static final long SIZE = 4L << 20;
    private static final Duration LEASE = Duration.ofMinutes(10);

    @TempDir
    Path dir;
    Path temps;
    final NbdExportRegistry exports = new NbdExportRegistry();
    final ManualClock clock = new ManualClock(Instant.parse("2026-12-02T07:00:00Z"));
    DiskTable disks;
    JobTable jobs;

    @BeforeEach
    void createTables() throws Exception {
        Path images = Files.createDirectories(dir.resolve("images"));
        temps = Files.createDirectories(dir.resolve("tmp"));
        disks = new DiskTable(new AllowedPaths("image", List.of(images)), new AllowedPaths("guest agent", List.of(dir)),
                new ReservedFiles(dir.resolve("state"), List.of(images), List.of(temps)), exports, entries -> { }, (type, data) -> { });
        jobs = new JobTable(disks, exports, new AllowedPaths("temp", List.of(temps)),
                new AllowedPaths("backup", List.of(Files.createDirectories(dir.resolve("backups")))),
                null, BackupChains.open(dir.resolve("state")), (type, data) -> { }, clock,
                JobHistory.open(dir.resolve("state"), new JobHistoryJson(), clock),
                new GuestFreezer((type, data) -> { }, Duration.ofSeconds(10)));
        for (String name : List.of("vm1", "vm2")) {
            disks.attach(name, images.resolve(name + ".qcow2").toString(), null,
                    new DiskTable.CreateSpec(SIZE, 65536, null, null));
        }
    }

    @AfterEach
    void closeAll() {
        jobs.failAll("test ended");
        disks.closeAll();
    }

    private static JobRequest request(List<String> disks, String checkpoint, String incrementalFrom,
            String differentialFrom, boolean allowFullFallback, String tempDirectory) {
        return new JobRequest(disks, checkpoint, incrementalFrom, differentialFrom, allowFullFallback, TempFormat.RAW,
                tempDirectory, 0, 0, OnCbwError.BREAK_SNAPSHOT, Duration.ofSeconds(45), 0, true, null, LEASE,
                FreezeMode.OFF, Duration.ofSeconds(10), false, ReadLimits.NONE, null, false, 4);
    }

    private static JobRequest full(String disk, String checkpoint) {
        return request(List.of(disk), checkpoint, null, null, false, null);
    }

    private static JobRequest incremental(String disk, String checkpoint, String from) {
        return request(List.of(disk), checkpoint, from, null, false, null);
    }

    private void write(String disk, long offset) throws Exception {
        disks.require(disk).active().exportNode().write(offset, ByteBuffer.wrap(new byte[] {1}), WriteFlag.NONE);
    }

    @Test
    void aStartPublishesAReadOnlyExportPerDiskAndFinishingRemovesIt() throws Exception {
        HostedJob job = jobs.start(request(List.of("vm1", "vm2"), "c1", null, null, false, null));
        assertEquals(List.of("vm1", "vm2"), job.disks().stream().map(HostedJob.Disk::disk).toList());
        for (HostedJob.Disk d : job.disks()) {
            assertEquals("full", d.mode());
            assertNull(d.base());
            assertTrue(d.export().startsWith(d.disk() + "-fleece-"), d.export());
            assertTrue(exports.find(d.export()).orElseThrow().refusesWrites());
        }
        assertEquals(clock.instant().plus(LEASE), job.leaseExpiresAt());
        assertEquals("running", jobs.require(job.id()).state());

        JobRecord ended = jobs.finish(job.id(), BackupOutcome.SUCCESS, "test");
        assertEquals("finished", ended.state());
        job.disks().forEach(d -> assertTrue(exports.find(d.export()).isEmpty(), d.export()));
        assertEquals("finished", jobs.require(job.id()).state(), "an ended job stays readable");
        assertEquals(ended, jobs.finish(job.id(), BackupOutcome.SUCCESS, "again"), "a retried finish gets the ended job");
        HostRefusal other = assertThrows(HostRefusal.class, () -> jobs.finish(job.id(), BackupOutcome.FAILURE, "again"));
        assertEquals(ProblemReason.JOB_ENDED, other.reason(), "another outcome cannot change how it ended");
        assertTrue(other.getMessage().contains("with outcome success"), other.getMessage());
    }

    @Test
    void ofManyConcurrentFinishesExactlyOneDecides() throws Exception {
        for (int round = 0; round < 20; round++) {
            String id = jobs.start(full("vm1", "r" + round)).id();
            List<Callable<Object>> finishes = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                BackupOutcome outcome = i % 2 == 0 ? BackupOutcome.SUCCESS : BackupOutcome.FAILURE;
                finishes.add(() -> {
                    try {
                        return jobs.finish(id, outcome, "finish " + outcome);
                    } catch (HostRefusal refused) {
                        return refused;
                    }
                });
            }
            List<Object> answers = new ArrayList<>();
            try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
                for (Future<Object> f : threads.invokeAll(finishes)) {
                    answers.add(f.get());
                }
            }
            JobRecord ended = jobs.require(id);
            BackupOutcome decided = ended.endedBySuccess() ? BackupOutcome.SUCCESS : BackupOutcome.FAILURE;
            for (int i = 0; i < answers.size(); i++) {
                Object answer = answers.get(i);
                if ((i % 2 == 0) == (decided == BackupOutcome.SUCCESS)) {
                    assertEquals(ended, answer, "round " + round + ": the deciding outcome gets the ended job");
                } else {
                    assertEquals(ProblemReason.JOB_ENDED, ((HostRefusal) answer).reason(), "round " + round);
                }
            }
        }
    }

    @Test
    void modeAndBaseComeFromTheCheckpointStart() throws Exception {
        jobs.finish(jobs.start(full("vm1", "c1")).id(), BackupOutcome.SUCCESS, "test");
        write("vm1", 0);
        HostedJob incremental = jobs.start(incremental("vm1", "c2", "c1"));
        HostedJob.Disk d = incremental.disk("vm1");
        assertEquals("incremental", d.mode());
        assertEquals("c1", d.base());
        assertEquals("qemu:dirty-bitmap:c1", d.metaContext());
        jobs.finish(incremental.id(), BackupOutcome.SUCCESS, "test");

        HostedJob differential = jobs.start(request(List.of("vm1"), "c3", null, "c1", false, null));
        assertEquals("differential", differential.disk("vm1").mode(), "c2 came after c1");
        assertEquals("c1", differential.disk("vm1").base());
        jobs.finish(differential.id(), BackupOutcome.SUCCESS, "test");

        HostedJob stale = jobs.start(incremental("vm1", "c4", "c2"));
        assertEquals("differential", stale.disk("vm1").mode(), "an incrementalFrom that is not the newest says so");
    }

    @Test
    void aRefusedBaseFallsBackToFullWhenAllowedAndSaysWhy() throws Exception {
        HostedJob job = jobs.start(request(List.of("vm1"), "c1", "c0", null, true, null));
        assertEquals("full", job.disk("vm1").mode());
        assertEquals("NEW_DISK", job.disk("vm1").fallbackReason());
    }

    @Test
    void aDiskWithARunningJobRefusesASecondJobDetachingAndBitmapChanges() throws Exception {
        HostedJob job = jobs.start(full("vm1", "c1"));
        assertRefused(ProblemReason.JOB_RUNNING, () -> jobs.start(full("vm1", "c2")));
        assertRefused(ProblemReason.JOB_RUNNING, () -> jobs.start(request(List.of("vm2", "vm1"), "c2", null, null,
                false, null)));
        assertRefused(ProblemReason.JOB_RUNNING, () -> disks.detach("vm1", false));
        DiskBusy busy = assertThrows(DiskBusy.class, () -> disks.detach("vm1", false));
        assertTrue(busy.getMessage().contains(job.id()), busy.getMessage());
        assertNull(disks.require("vm2").active().job(), "the refused job claimed no disk");

        jobs.finish(job.id(), BackupOutcome.SUCCESS, "test");
        disks.detach("vm1", false);
    }

    @Test
    void startRefusalsNameTheirReason() throws Exception {
        jobs.finish(jobs.start(full("vm1", "c1")).id(), BackupOutcome.SUCCESS, "test");
        assertRefused(ProblemReason.BASE_AMBIGUOUS, () -> jobs.start(request(List.of("vm1"), "c2", "c1", "c1", false,
                null)));
        assertRefused(ProblemReason.DISK_UNKNOWN, () -> jobs.start(full("vm9", "c2")));
        assertRefused(ProblemReason.NEW_DISK, () -> jobs.start(incremental("vm2", "c1", "c0")));
        assertRefused(ProblemReason.BASE_UNKNOWN, () -> jobs.start(incremental("vm1", "c2", "c0")));
        assertRefused(ProblemReason.CHECKPOINT_EXISTS, () -> jobs.start(full("vm1", "c1")));
        assertRefused(ProblemReason.PATH_NOT_ALLOWED, () -> jobs.start(request(List.of("vm1"), "c2", null, null, false,
                dir.resolve("elsewhere").toString())));
        assertRefused(ProblemReason.JOB_UNKNOWN, () -> jobs.require("no-such-job"));
        assertEquals(0, jobs.runningCount(), "no refusal left a job running");
        assertEquals(2, exports.list().size(), "only the two disks' own exports remain");
    }

    @Test
    void callsOnAJobCheckItsDisksRangesAndWhetherItRuns() throws Exception {
        HostedJob job = jobs.start(full("vm1", "c1"));
        assertRefused(ProblemReason.DISK_NOT_IN_JOB, () -> jobs.discard(job.id(), "vm2", List.of()));
        assertRefused(ProblemReason.RANGE_OUTSIDE_DISK, () -> jobs.discard(job.id(), "vm1",
                List.<long[]>of(new long[] {SIZE - 512, 1024})));
        jobs.discard(job.id(), "vm1", List.<long[]>of(new long[] {0, 65536}));
        jobs.finish(job.id(), BackupOutcome.SUCCESS, "test");
        assertRefused(ProblemReason.JOB_ENDED, () -> jobs.renew(job.id(), LEASE));
        assertRefused(ProblemReason.JOB_ENDED, () -> jobs.discard(job.id(), "vm1", List.of()));
    }

    @Test
    void aJobWhoseLeaseRunsOutFailsAndFreesItsDisk() throws Exception {
        HostedJob job = jobs.start(full("vm1", "c1"));
        clock.advance(LEASE.minusSeconds(1));
        jobs.expireLeases();
        assertEquals("running", jobs.require(job.id()).state(), "the lease has a second left");
        jobs.renew(job.id(), LEASE);
        clock.advance(LEASE.plusSeconds(1));
        jobs.expireLeases();

        JobRecord expired = jobs.require(job.id());
        assertEquals("failed", expired.state());
        assertTrue(exports.find(job.disk("vm1").export()).isEmpty());
        assertNull(disks.require("vm1").active().job());
        assertEquals("full", jobs.start(full("vm1", "c1")).disk("vm1").mode(),
                "the expired job never happened: c1 is free again and the disk has no checkpoint");
    }
}
