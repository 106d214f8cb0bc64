package org.fleeced.qcow2.bitmap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 at random moments: a {@link CrashingWriter} process is killed after a random number of
 * acknowledged changes, many rounds on one image. After each kill, every bitmap must be
 * recovered and cover every change acknowledged since it was added, and qemu-img check must
 * find no corruption (leaks allowed).
 * <pre>
 *   test ──spawn──▶ CrashingWriter ──▶ PersistentBitmaps ──▶ disk.qcow2 + disk.qcow2.fleeced-intent
 *     ▲  stdout: OPEN / ADD name / ACK off len        │
 *     └─────────── destroyForcibly at a random ACK ───┘
 * </pre>
 */
class CrashRecoveryTest {
    private static final long SIZE = 48L << 20;
    private static final long GRANULARITY = 1 << 16;
    private static final int ROUNDS = 12;
    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedChangeIsInTheRecoveredBitmapsAfterKillMinus9() throws Exception {
        ExternalTools.assume("qemu-img");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        Path image = dir.resolve("disk.qcow2");
        ExternalTools.ok("qemu-img", "create", "-f", "qcow2", image.toString(), Long.toString(SIZE));
        ExternalTools.ok("qemu-img", "bitmap", "--add", image.toString(), "base");
        Map<String, ClusterRuns> expected = new LinkedHashMap<>();
        expected.put("base", new ClusterRuns(SIZE, GRANULARITY));
        for (int round = 0; round < ROUNDS; round++) {
            String context = "seed " + seed + ", round " + round;
            int killAfter = 1 + random.nextInt(150);
            int addAt = random.nextBoolean() ? random.nextInt(killAfter + 20) : -1;
            runAndKill(image, random.nextLong(), killAfter, addAt, "c" + round, expected, context);

            ExternalTools.Result check = ExternalTools.run("qemu-img", "check", image.toString());
            assertTrue(check.exitCode() == 0 || check.exitCode() == 3, context + ": qemu-img check\n" + check.output());
            if (round == 0) {
                String info = ExternalTools.ok("qemu-img", "info", "--output=json", image.toString());
                assertTrue(info.contains("\"in-use\""), context + ": QEMU must see the killed bitmaps as in use\n" + info);
            }
            boolean readWrite = round % 3 == 2;
            try (BitmapDisk disk = BitmapDisk.open(image, !readWrite)) {
                PersistentBitmaps bitmaps = disk.bitmaps();
                List<BitmapInfo> infos = bitmaps.list();
                for (Map.Entry<String, ClusterRuns> e : expected.entrySet()) {
                    BitmapInfo info = infos.stream().filter(i -> i.name().equals(e.getKey())).findFirst().orElse(null);
                    assertNotNull(info, context + ": bitmap " + e.getKey() + " was not recovered at all");
                    assertEquals(BitmapState.RECOVERED, info.state(), context + ": " + info);
                    assertEquals(List.of(), e.getValue().missingFrom(bitmaps.get(e.getKey())),
                            context + ": acknowledged changes missing from bitmap " + e.getKey());
                }
            }
            if (readWrite) {
                ExternalTools.Result after = ExternalTools.run("qemu-img", "check", image.toString());
                assertTrue(after.exitCode() == 0 || after.exitCode() == 3, context + ": after a clean close\n" + after.output());
                assertTrue(!ExternalTools.ok("qemu-img", "info", image.toString()).contains("in-use"), context);
            }
        }
    }

    private void runAndKill(Path image, long childSeed, int killAfter, int addAt, String addName,
                            Map<String, ClusterRuns> expected, String context) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "-Xmx256m", "-XX:TieredStopAtLevel=1",
                CrashingWriter.class.getName(), image.toString(), Long.toString(childSeed), Integer.toString(addAt), addName);
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        Process child = pb.start();
        int acks = 0;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII))) {
            for (String line; acks < killAfter && (line = out.readLine()) != null; ) {
                String[] f = line.split(" ");
                if (f[0].equals("ADD") && f.length == 2) {
                    expected.put(f[1], new ClusterRuns(SIZE, GRANULARITY));
                } else if (f[0].equals("ACK") && f.length == 3) {
                    long offset = Long.parseLong(f[1]);
                    long length = Long.parseLong(f[2]);
                    for (ClusterRuns runs : expected.values()) {
                        runs.add(offset, length);
                    }
                    acks++;
                }
            }
        } finally {
            child.destroyForcibly();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS), context + ": the writer did not die");
        }
        assertEquals(killAfter, acks, context + ": the writer stopped early (exit " + child.exitValue() + ")");
    }
}
