package org.fleeced.daemon.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ByteSizeTest {
    @Test
    void sizesAsPeopleWriteThem() {
        assertEquals(4096, ByteSize.parse("4096"));
        assertEquals(512L << 20, ByteSize.parse("512M"));
        assertEquals(10L << 30, ByteSize.parse("10G"));
        assertEquals(10L << 30, ByteSize.parse("10GiB"));
        assertEquals(1L << 40, ByteSize.parse("1t"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("ten"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("-1G"));
        assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("9999999999E"));
    }

    @Test
    void sizesAsPeopleReadThem() {
        assertEquals("512 B", ByteSize.format(512));
        assertEquals("64 KiB", ByteSize.format(64 << 10));
        assertEquals("1.5 GiB", ByteSize.format(3L << 29));
        assertEquals("8 EiB", ByteSize.format(Long.MAX_VALUE));
    }
}
