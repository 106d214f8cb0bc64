package org.fleeced.daemon.api;

import java.util.Map;
import java.util.concurrent.CancellationException;

import org.fleeced.checksum.BlockChecksum;
import org.fleeced.checksum.ChecksumRun;
import org.fleeced.daemon.host.DiskTable;
import org.fleeced.daemon.host.JobTable;
import org.fleeced.daemon.host.ProblemReason;
import org.fleeced.daemon.host.SnapshotChecksums;

/** The handlers of the checksum operations: checksumJobDisk and checksumDisk. */
final class ChecksumOperations {
    /** Answered to a client that went away: nobody reads it (nginx's 499). */
    private static final int CLIENT_GONE = 499;

    private final DiskTable disks;
    private final JobTable jobs;
    private final SnapshotChecksums checksums;

    ChecksumOperations(DiskTable disks, JobTable jobs, SnapshotChecksums checksums) {
        this.disks = disks;
        this.jobs = jobs;
        this.checksums = checksums;
    }

    void bind(Map<String, ApiOperation> ops) {
        ops.put("checksumJobDisk", req -> {
            int blockSize = blockSize(req);
            try {
                return answer(checksums.ofJobDisk(jobs, req.path("job"), req.path("disk"), blockSize, req::onClientGone));
            } catch (CancellationException e) {
                return new ApiResponse(CLIENT_GONE, null);
            }
        });
        ops.put("checksumDisk", req -> {
            int blockSize = blockSize(req);
            try {
                return answer(checksums.ofDisk(disks.require(req.path("disk")), blockSize, req::onClientGone));
            } catch (CancellationException e) {
                return new ApiResponse(CLIENT_GONE, null);
            }
        });
    }

    private static ApiResponse answer(ChecksumRun.Result r) {
        return ApiResponse.ok(new JobBodies.Checksum(r.algorithm(), r.blockSize(), r.checksum(), r.sizeBytes()));
    }

    private static int blockSize(ApiRequest req) throws ApiProblem {
        String text = req.query("blockSize");
        if (text == null) {
            return BlockChecksum.DEFAULT_BLOCK_SIZE;
        }
        long n = Long.parseLong(text);
        if (!BlockChecksum.validBlockSize(n)) {
            throw new ApiProblem(ProblemReason.INVALID_REQUEST, "blockSize must be a power of two from "
                    + BlockChecksum.MIN_BLOCK_SIZE + " to " + BlockChecksum.MAX_BLOCK_SIZE + ", not " + text + ".");
        }
        return (int) n;
    }
}
