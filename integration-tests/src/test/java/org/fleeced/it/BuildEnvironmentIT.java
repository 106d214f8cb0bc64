package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The build refuses a JDK older than 25 and says how to select one. */
class BuildEnvironmentIT {
    private static final Path JDK17 = Path.of("/usr/lib/jvm/java-17-openjdk-amd64");

    @Test
    void theEnforcerRefusesJdk17WithAHint() throws Exception {
        assumeTrue(Files.isExecutable(JDK17.resolve("bin/java")), "no JDK 17 installed here");
        Path root = Path.of(System.getProperty("user.dir")).getParent();
        ProcessBuilder pb = new ProcessBuilder("mvn", "-B", "-o", "-N", "-q", "validate")
                .directory(root.toFile())
                .redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", JDK17.toString());
        Process mvn = pb.start();
        String output = new String(mvn.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(mvn.waitFor(120, TimeUnit.SECONDS), "maven did not finish");
        assertNotEquals(0, mvn.exitValue(), "the build accepted JDK 17:\n" + output);
        assertTrue(output.contains("fleeced needs JDK 25 or newer"), output);
        assertTrue(output.contains("bin/find-jdk"), output);
    }

    @Test
    void findJdkPicksAJdk25WhenJavaHomeIsOlder() throws IOException, InterruptedException {
        Path root = Path.of(System.getProperty("user.dir")).getParent();
        ProcessBuilder pb = new ProcessBuilder(root.resolve("bin/find-jdk").toString()).redirectErrorStream(true);
        pb.environment().put("JAVA_HOME", JDK17.toString());
        Process p = pb.start();
        String home = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        assertTrue(p.exitValue() == 0, home);
        String release = Files.readString(Path.of(home, "release"));
        assertTrue(release.matches("(?s).*JAVA_VERSION=\"(2[5-9]|[3-9][0-9]).*"), home + " is not JDK 25+");
    }
}
