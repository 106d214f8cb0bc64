package org.fleeced.daemon.nbd.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.fleeced.block.Errno;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdError;
import org.fleeced.daemon.nbd.protocol.NbdRequest;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The one errno to NBD mapping, row by row; the flags column is what the failed request carried. */
class NbdErrnoMappingTest {

    @ParameterizedTest(name = "{0} with flags {1} -> {2}")
    @CsvSource({
            "EIO,       0,          EIO",
            "EPERM,     0,          EPERM",
            "EROFS,     0,          EPERM",
            "EACCES,    0,          EPERM",
            "ENOSPC,    0,          ENOSPC",
            "EINVAL,    0,          EINVAL",
            "ENOMEM,    0,          ENOMEM",
            "ESHUTDOWN, 0,          ESHUTDOWN",
            "ENOTSUP,   0,          EINVAL",
            "ENOTSUP,   FAST_ZERO,  ENOTSUP",
            "EOVERFLOW, 0,          EINVAL",
            "EOVERFLOW, DF,         EOVERFLOW",
    })
    void mapsAsNbdkitDoesExceptEacces(Errno errno, String flag, NbdError expected) {
        int flags = flag.equals("0") ? 0 : NbdCommandFlag.valueOf(flag).mask();
        NbdRequest request = new NbdRequest(flags, NbdCommand.READ.code(), 1, 0, 512, false);
        assertEquals(expected, NbdErrnoMapping.toNbd(errno, request));
    }
}
