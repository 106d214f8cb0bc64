package org.fleeced.daemon.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;

/**
 * The directories the daemon may touch on a caller's behalf. A requested path is accepted only
 * when, with every symbolic link and {@code ..} resolved, it lies inside one of them: so neither
 * {@code ../../etc/passwd} nor a link planted inside an allowed directory escapes.
 */
public final class AllowedPaths {
    /** Linux's NAME_MAX: the longest name of one path component, in bytes. */
    static final int NAME_MAX = 255;
    /** Linux's PATH_MAX: the longest path a system call takes, in bytes with its terminating NUL. */
    static final int PATH_MAX = 4096;
    private final String what;
    private final List<Path> roots;

    public AllowedPaths(String what, List<Path> roots) {
        this.what = what;
        this.roots = roots;
    }

    public List<Path> roots() {
        return roots;
    }

    /**
     * The real path the request names, or a {@link PathRefused} that says why not. For a file
     * that does not exist yet, its parent directory must exist and be inside a root.
     */
    public Path check(String requested) throws PathRefused {
        Path path;
        try {
            if (requested == null || requested.isEmpty() || requested.indexOf('\0') >= 0) {
                throw new PathRefused("'" + requested + "' is not a path");
            }
            path = Path.of(requested);
        } catch (InvalidPathException e) {
            throw new PathRefused("'" + requested + "' is not a path: " + e.getReason());
        }
        if (!path.isAbsolute()) {
            throw new PathRefused(requested + " is relative; give an absolute path inside " + roots);
        }
        checkLengths(requested, path);
        if (!Files.exists(path) && Files.isSymbolicLink(path)) {
            throw new PathRefused(requested + " is a symbolic link to " + linkTarget(path)
                    + ", which does not exist (a dangling link)");
        }
        Path real;
        try {
            real = Files.exists(path) ? path.toRealPath() : realParent(path);
        } catch (IOException e) {
            throw new PathRefused(requested + " cannot be resolved: " + e.getMessage());
        }
        for (Path root : roots) {
            Path realRoot;
            try {
                realRoot = Files.exists(root) ? root.toRealPath() : root.toAbsolutePath().normalize();
            } catch (IOException e) {
                continue;
            }
            if (real.startsWith(realRoot) && !real.equals(realRoot)) {
                return real;
            }
        }
        throw new PathRefused(requested + " is outside the allowed " + what + " directories " + roots);
    }

    /**
     * The real path of a directory the request names: one of the roots itself or a directory
     * inside one (which need not exist yet, when its parent does). Refused like {@link #check}.
     */
    public Path checkDirectory(String requested) throws PathRefused {
        if (requested == null || requested.isEmpty()) {
            throw new PathRefused("'" + requested + "' is not a path");
        }
        // a name inside the directory passes check exactly when the directory is a root or inside one
        return check(requested.replaceAll("/+$", "") + "/.probe").getParent();
    }

    /** File systems refuse longer names with ENAMETOOLONG; refused here first, with the cause. */
    private static void checkLengths(String requested, Path path) throws PathRefused {
        if (requested.getBytes(StandardCharsets.UTF_8).length >= PATH_MAX) {
            throw new PathRefused(abbreviated(requested) + " is longer than " + (PATH_MAX - 1)
                    + " bytes, the longest path Linux takes");
        }
        for (Path name : path) {
            if (name.toString().getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
                throw new PathRefused(abbreviated(requested) + " has a name longer than " + NAME_MAX
                        + " bytes, the longest a file system takes: " + abbreviated(name.toString()));
            }
        }
    }

    private static String abbreviated(String text) {
        return text.length() <= 80 ? text : text.substring(0, 60) + "... (" + text.length() + " characters)";
    }

    private static String linkTarget(Path link) {
        try {
            return Files.readSymbolicLink(link).toString();
        } catch (IOException e) {
            return "a target that cannot be read (" + e.getMessage() + ")";
        }
    }

    private static Path realParent(Path path) throws IOException {
        Path parent = path.toAbsolutePath().normalize().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new IOException("its directory " + parent + " does not exist");
        }
        return parent.toRealPath().resolve(path.getFileName());
    }

    /** A path the daemon will not touch; the message names the path and the allowed directories. */
    public static final class PathRefused extends Exception {
        public PathRefused(String message) {
            super(message);
        }
    }
}
