package org.fleeced.block.file;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Who holds the lock on a file, for the message that refuses a second writer. Linux lists every
 * file lock in {@code /proc/locks}, one per line, with the holder's pid and the locked file's
 * device and inode:
 *
 * <pre>
 *   1: POSIX  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF
 *   2: OFDLCK ADVISORY  WRITE -1 fd:01:7654321 0 EOF      (an open file description lock: no pid)
 *   2: -> POSIX ADVISORY WRITE 4343 ...                   (a waiter, not a holder)
 * </pre>
 *
 * Where that list cannot be read (another OS, a restricted /proc) the holder is unknown, and the
 * message says so rather than guess.
 */
final class FileLockHolder {
    private static final Path LOCKS = Path.of("/proc/locks");

    private FileLockHolder() {
    }

    /** "process 4242 (qemu-nbd)", "this daemon", or a sentence that says the holder is unknown. */
    static String of(Path path) {
        try {
            long device = (Long) Files.getAttribute(path, "unix:dev");
            long inode = (Long) Files.getAttribute(path, "unix:ino");
            String file = Long.toHexString(major(device)) + ":" + Long.toHexString(minor(device)) + ":" + inode;
            for (String line : Files.readAllLines(LOCKS, StandardCharsets.US_ASCII)) {
                String[] f = line.trim().split("\\s+");
                if (f.length >= 6 && !f[1].equals("->") && matches(f[5], file)) {
                    return holder(Long.parseLong(f[4]));
                }
            }
        } catch (IOException | RuntimeException unreadable) {
            // no /proc/locks, no unix attributes: the holder stays unknown
        }
        return "an unknown holder (no lock on it is listed in /proc/locks)";
    }

    /** /proc/locks writes the device as {@code MAJOR:MINOR} in hex, with two digits at least. */
    private static boolean matches(String listed, String file) {
        String[] l = listed.split(":");
        String[] w = file.split(":");
        return l.length == 3 && Long.parseLong(l[0], 16) == Long.parseLong(w[0], 16)
                && Long.parseLong(l[1], 16) == Long.parseLong(w[1], 16) && l[2].equals(w[2]);
    }

    private static String holder(long pid) {
        if (pid == ProcessHandle.current().pid()) {
            return "this daemon (another open of the same file)";
        }
        if (pid <= 0) {
            return "a process holding an open file description lock (its pid is not listed)";
        }
        try {
            String name = Files.readString(Path.of("/proc/" + pid + "/comm"), StandardCharsets.UTF_8).strip();
            return "process " + pid + " (" + name + ")";
        } catch (IOException | RuntimeException gone) {
            return "process " + pid;
        }
    }

    /** The major number in Linux's encoding of a {@code dev_t} (glibc's gnu_dev_major). */
    private static long major(long dev) {
        return ((dev >>> 8) & 0xfff) | ((dev >>> 32) & ~0xfffL);
    }

    /** The minor number in Linux's encoding of a {@code dev_t} (glibc's gnu_dev_minor). */
    private static long minor(long dev) {
        return (dev & 0xff) | ((dev >>> 12) & ~0xffL);
    }
}
