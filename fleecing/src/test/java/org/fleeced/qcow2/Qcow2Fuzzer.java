package org.fleeced.qcow2;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The seeded qcow2 fuzzer: runs {@link Qcow2FuzzCase}s, each on its own platform thread under a
 * time limit (a case that does not finish is a hang, reported with its stack), and checks what a
 * case allocated against a bound proportional to the image's size (a header that announces a huge
 * table must not make the driver allocate it). Case seeds come from the run seed, so a run
 * repeats exactly; each failure names its case seed, and {@code --case SEED} repeats that case.
 *
 * <p>{@link Qcow2FuzzTest} runs a few thousand cases in the unit tests; {@code bench/fuzz-qcow2.sh}
 * runs {@link #main} for as long as asked.
 */
public final class Qcow2Fuzzer {
    /** What a case may allocate beyond {@link #ALLOCATION_PER_IMAGE_BYTE} times its image's size. */
    static final long ALLOCATION_BASE_BYTES = 48L << 20;
    static final long ALLOCATION_PER_IMAGE_BYTE = 16;

    /** A case that broke an invariant: its seed, what it did, and why it failed. */
    record Failure(long caseSeed, String description, Throwable cause, byte[] image) {
        String report() {
            StringWriter w = new StringWriter();
            cause.printStackTrace(new PrintWriter(w));
            return description + "failure: " + w;
        }
    }

    /** Counts over a run. */
    static final class Stats {
        int cases;
        int controls;
        int openedReadOnly;
        int openedReadWrite;
        int refusedBoth;
        long failedOperations;
        long maxAllocatedBytes;
        final List<Failure> failures = new ArrayList<>();

        @Override
        public String toString() {
            return String.format("%d cases (%d controls): %d opened read-only, %d read-write, %d refused both ways, "
                    + "%d operations failed cleanly, at most %d MiB allocated by a case, %d failures",
                    cases, controls, openedReadOnly, openedReadWrite, refusedBoth, failedOperations,
                    maxAllocatedBytes >> 20, failures.size());
        }
    }

    private final Qcow2BaseImages images;
    private final Duration caseTimeout;

    Qcow2Fuzzer(Qcow2BaseImages images, Duration caseTimeout) {
        this.images = images;
        this.caseTimeout = caseTimeout;
    }

    /**
     * Runs cases from {@code runSeed} until {@code maxCases} ran or {@code maxTime} passed; stops
     * at the first failure when {@code stopAtFailure}, and always after a hang (the hung thread
     * still holds the case's files).
     */
    Stats run(long runSeed, long maxCases, Duration maxTime, boolean stopAtFailure) throws InterruptedException {
        Stats stats = new Stats();
        SplittableRandom seeds = new SplittableRandom(runSeed);
        long deadline = System.nanoTime() + maxTime.toNanos();
        while (stats.cases < maxCases && System.nanoTime() < deadline) {
            long caseSeed = seeds.nextLong();
            Result r = runCase(caseSeed);
            stats.cases++;
            if (r.failure() != null) {
                stats.failures.add(r.failure());
                if (stopAtFailure || r.hung()) {
                    break;
                }
                continue;
            }
            Qcow2FuzzCase.Outcome o = r.outcome();
            stats.controls += o.control() ? 1 : 0;
            stats.openedReadOnly += o.openedReadOnly() ? 1 : 0;
            stats.openedReadWrite += o.openedReadWrite() ? 1 : 0;
            stats.refusedBoth += !o.openedReadOnly() && !o.openedReadWrite() ? 1 : 0;
            stats.failedOperations += o.failedOperations();
            stats.maxAllocatedBytes = Math.max(stats.maxAllocatedBytes, o.allocatedBytes());
        }
        return stats;
    }

    /** The outcome of one case, or its failure; {@code hung} when it did not finish in time. */
    record Result(Qcow2FuzzCase.Outcome outcome, Failure failure, boolean hung) {
    }

    /** Runs one case on a new platform thread and waits for it at most the case timeout. */
    Result runCase(long caseSeed) throws InterruptedException {
        Qcow2FuzzCase c = new Qcow2FuzzCase(images, caseSeed);
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("qcow2-fuzz-" + Long.toHexString(caseSeed)).unstarted(() -> {
            try {
                result.set(c.run());
            } catch (Throwable e) {
                result.set(e);
            }
        });
        t.start();
        t.join(caseTimeout);
        if (t.isAlive()) {
            AssertionError hang = new AssertionError("hang: the case did not finish within " + caseTimeout);
            hang.setStackTrace(t.getStackTrace());
            t.interrupt();
            return new Result(null, new Failure(caseSeed, c.describe(), hang, c.imageBytes()), true);
        }
        if (result.get() instanceof Throwable e) {
            return new Result(null, new Failure(caseSeed, c.describe(), e, c.imageBytes()), false);
        }
        Qcow2FuzzCase.Outcome o = (Qcow2FuzzCase.Outcome) result.get();
        long bound = ALLOCATION_BASE_BYTES + ALLOCATION_PER_IMAGE_BYTE * o.fileBytes();
        if (o.allocatedBytes() > bound) {
            AssertionError e = new AssertionError("the case allocated " + (o.allocatedBytes() >> 20) + " MiB for an image of "
                    + o.fileBytes() + " bytes (bound " + (bound >> 20) + " MiB)");
            return new Result(o, new Failure(caseSeed, c.describe(), e, c.imageBytes()), false);
        }
        return new Result(o, null, false);
    }

    /**
     * {@code [--seed S] [--duration 10m|90s|1h] [--cases N] [--dir D] [--no-qemu] [--case SEED]}: runs
     * until the duration or case count is reached, prints progress every minute and every failure
     * (saved as {@code failure-SEED.qcow2} and {@code .txt} in the current directory), exits 1 if
     * any case failed.
     */
    public static void main(String[] args) throws Exception {
        long seed = new SplittableRandom().nextLong();
        Duration duration = Duration.ofMinutes(10);
        long cases = Long.MAX_VALUE;
        Path dir = null;
        boolean qemu = true;
        Long single = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seed" -> seed = Long.decode(args[++i]);
                case "--duration" -> duration = parseDuration(args[++i]);
                case "--cases" -> cases = Long.parseLong(args[++i]);
                case "--dir" -> dir = Path.of(args[++i]);
                case "--no-qemu" -> qemu = false;
                case "--case" -> single = Long.decode(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Path work = Files.createTempDirectory(dir != null ? dir : scratchParent(Path.of(System.getProperty("java.io.tmpdir"))),
                "qcow2-fuzz");
        Qcow2Fuzzer fuzzer = new Qcow2Fuzzer(Qcow2BaseImages.create(work, qemu), Duration.ofSeconds(60));
        System.out.println("qcow2 fuzzer: seed " + seed + ", " + fuzzer.images.bases().size() + " base images in " + work);
        if (single != null) {
            Result r = fuzzer.runCase(single);
            System.out.println(r.failure() != null ? r.failure().report() : "case passed: " + r.outcome());
            if (r.failure() != null) {
                save(r.failure());
            }
            deleteTree(work);
            System.exit(r.failure() != null ? 1 : 0);
        }
        int failures = 0;
        long end = System.nanoTime() + duration.toNanos();
        long round = 0;
        while (System.nanoTime() < end && cases > 0) {
            Duration slice = Duration.ofNanos(Math.min(Duration.ofMinutes(1).toNanos(), end - System.nanoTime()));
            Stats s = fuzzer.run(seed + round++, cases, slice, false);
            cases -= s.cases;
            System.out.println(java.time.LocalTime.now().withNano(0) + " seed " + (seed + round - 1) + ": " + s);
            for (Failure f : s.failures) {
                failures++;
                System.out.println(f.report());
                save(f);
            }
            if (s.failures.stream().anyMatch(f -> f.cause().getMessage() != null && f.cause().getMessage().startsWith("hang"))) {
                break;
            }
        }
        deleteTree(work);
        System.exit(failures == 0 ? 0 : 1);
    }

    private static void save(Failure f) throws IOException {
        Files.write(Path.of("failure-" + f.caseSeed() + ".qcow2"), f.image());
        Files.writeString(Path.of("failure-" + f.caseSeed() + ".txt"), f.report());
    }

    private static Duration parseDuration(String s) {
        long n = Long.parseLong(s.substring(0, s.length() - 1));
        return switch (s.charAt(s.length() - 1)) {
            case 's' -> Duration.ofSeconds(n);
            case 'm' -> Duration.ofMinutes(n);
            case 'h' -> Duration.ofHours(n);
            default -> throw new IllegalArgumentException("duration like 90s, 10m or 2h: " + s);
        };
    }

    /**
     * Where the cases' files go: /dev/shm when it is there, else {@code fallback}. Each case opens,
     * stores and closes cleanly, a dozen fsyncs; on a memory file system they cost nothing, and
     * the fuzzer tests the driver's logic, not the disk.
     */
    static Path scratchParent(Path fallback) {
        Path shm = Path.of("/dev/shm");
        return Files.isDirectory(shm) && Files.isWritable(shm) ? shm : fallback;
    }

    static void deleteTree(Path dir) throws IOException {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
