package org.fleeced.daemon.cli;

import java.util.Locale;

/** Byte counts as people write them: {@code 10G}, {@code 512M}, {@code 4096} (binary units). */
final class ByteSize {
    private static final String UNITS = "KMGTPE";

    private ByteSize() {
    }

    /** {@code 1.5 GiB}, {@code 64 KiB}, {@code 512 B}. */
    static String format(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        int unit = (63 - Long.numberOfLeadingZeros(bytes)) / 10;
        double value = bytes / Math.pow(1024, unit);
        String number = value >= 100 || value == Math.floor(value) ? String.format(Locale.ROOT, "%.0f", value)
                : String.format(Locale.ROOT, "%.1f", value);
        return number + " " + UNITS.charAt(unit - 1) + "iB";
    }

    /** Parses {@code 10G}, {@code 10GiB}, {@code 512m}, {@code 4096}; an IllegalArgumentException says what is wrong. */
    static long parse(String text) {
        String t = text.trim().toUpperCase(Locale.ROOT).replaceAll("I?B$", "");
        int shift = 0;
        if (!t.isEmpty() && UNITS.indexOf(t.charAt(t.length() - 1)) >= 0) {
            shift = 10 * (UNITS.indexOf(t.charAt(t.length() - 1)) + 1);
            t = t.substring(0, t.length() - 1);
        }
        try {
            long n = Long.parseLong(t.trim());
            if (n < 0 || (shift > 0 && n > (Long.MAX_VALUE >> shift))) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a size (e.g. 4096, 512M, 10G)");
        }
    }
}
