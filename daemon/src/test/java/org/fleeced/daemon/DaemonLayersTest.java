package org.fleeced.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassModel;
import java.lang.classfile.constantpool.PoolEntry;
import java.lang.classfile.constantpool.Utf8Entry;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.fleeced.daemon.app.Main;
import org.junit.jupiter.api.Test;

/**
 * The daemon's packages depend downwards only, checked on the compiled classes (every class,
 * descriptor and signature a class file names, so fully qualified names and annotations count
 * as much as imports):
 *
 * <pre>
 *   app ──▶ api ──▶ host ──▶ nbd          app: main, configuration, composition root
 *    └──────────────┴────────▶ nbd         nothing points up
 *                    host ──▶ guest        guest: the QEMU guest agent protocol
 *   app ──▶ cli                            cli: the command-line client, a REST client only
 * </pre>
 * Jackson appears only in {@code api} (the REST bodies), in {@code guest} (the agent speaks JSON
 * lines), in {@code cli} (it reads the API's JSON) and in the loading of the configuration and the state directory ({@link #JACKSON_IN_APP}).
 */
class DaemonLayersTest {
    private static final String DAEMON = "org/fleeced/daemon/";
    private static final String JACKSON = "com/fasterxml/jackson/";
    /**
     * The classes of {@code app} that read or write files in JSON or YAML, and the AOT training run,
     * a REST client of the daemon that reads its JSON answers.
     */
    private static final Set<String> JACKSON_IN_APP = Set.of("ConfigLoader", "DaemonConfig", "RememberedDisksFile",
            "JobHistoryJson", "AotTraining");
    /** What each package must not name. */
    private static final Map<String, List<String>> FORBIDDEN = Map.of(
            "api", List.of(DAEMON + "app/"),
            "host", List.of(DAEMON + "app/", DAEMON + "api/"),
            "nbd", List.of(DAEMON + "app/", DAEMON + "api/", DAEMON + "host/", DAEMON + "guest/"),
            "guest", List.of(DAEMON + "app/", DAEMON + "api/", DAEMON + "host/", DAEMON + "nbd/"),
            "cli", List.of(DAEMON + "app/", DAEMON + "api/", DAEMON + "host/", DAEMON + "nbd/", DAEMON + "guest/"));

    @Test
    void noPackageNamesALayerAboveIt() throws Exception {
        Map<String, Set<String>> violations = new TreeMap<>();
        for (Path file : classFiles()) {
            String name = className(file);
            List<String> forbidden = FORBIDDEN.getOrDefault(layer(name), List.of());
            for (String named : namedIn(file)) {
                if (forbidden.stream().anyMatch(named::contains)) {
                    violations.computeIfAbsent(name, k -> new TreeSet<>()).add(named);
                }
            }
        }
        assertEquals(Map.of(), violations, "classes that name a layer above their own");
    }

    @Test
    void jacksonAppearsOnlyInTheApiAndInFileLoading() throws Exception {
        Set<String> users = new TreeSet<>();
        for (Path file : classFiles()) {
            String name = className(file);
            boolean allowed = List.of("api", "guest", "cli").contains(layer(name))
                    || layer(name).equals("app") && JACKSON_IN_APP.contains(outerSimpleName(name));
            if (!allowed && namedIn(file).stream().anyMatch(n -> n.contains(JACKSON))) {
                users.add(name);
            }
        }
        assertEquals(Set.of(), users, "classes outside api and config loading that use Jackson");
    }

    /** The check sees real dependencies: the composition root names the API, and the API names Jackson. */
    @Test
    void theCheckSeesWhatAClassNames() throws Exception {
        Path classes = classesRoot();
        Set<String> daemonCommand = namedIn(classes.resolve(DAEMON + "app/DaemonCommand$Running.class"));
        assertTrue(daemonCommand.stream().anyMatch(n -> n.contains(DAEMON + "api/")), daemonCommand.toString());
        Set<String> diskBodies = namedIn(classes.resolve(DAEMON + "api/DiskBodies$Disk.class"));
        assertTrue(diskBodies.stream().anyMatch(n -> n.contains(JACKSON)), diskBodies.toString());
        assertFalse(classFiles().isEmpty());
    }

    private static Path classesRoot() throws URISyntaxException {
        return Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static List<Path> classFiles() throws IOException, URISyntaxException {
        try (Stream<Path> files = Files.walk(classesRoot().resolve(DAEMON))) {
            return files.filter(f -> f.toString().endsWith(".class")).sorted().toList();
        }
    }

    /** Every text in the constant pool: class names, descriptors, signatures, annotation types. */
    private static Set<String> namedIn(Path classFile) throws IOException {
        ClassModel model = ClassFile.of().parse(classFile);
        Set<String> named = new TreeSet<>();
        for (PoolEntry entry : model.constantPool()) {
            if (entry instanceof Utf8Entry utf8 && utf8.stringValue().contains("/")) {
                named.add(utf8.stringValue());
            }
        }
        return named;
    }

    private static String className(Path file) throws URISyntaxException {
        String relative = classesRoot().relativize(file).toString().replace('\\', '/');
        return relative.substring(0, relative.length() - ".class".length());
    }

    /** The package right under org.fleeced.daemon: api, app, host or nbd. */
    private static String layer(String className) {
        String rest = className.substring(DAEMON.length());
        int slash = rest.indexOf('/');
        return slash < 0 ? "" : rest.substring(0, slash);
    }

    private static String outerSimpleName(String className) {
        String simple = className.substring(className.lastIndexOf('/') + 1);
        int dollar = simple.indexOf('$');
        return dollar < 0 ? simple : simple.substring(0, dollar);
    }
}
