package org.fleeced.daemon.api;

import org.fleeced.daemon.host.ReadLimits;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/** The JSON bodies of the fleecing job operations, as openapi.yaml names them. */
public final class JobBodies {
    private JobBodies() {
    }

    public record StartJob(List<String> disks, String checkpoint, String incrementalFrom, String differentialFrom,
            Boolean allowFullFallback, String tempFormat, String tempDirectory, Long tempQuotaBytes,
            Long tempReserveBytes, String onCbwError, Double cbwTimeoutSeconds, Long cbwClusterSize,
            Boolean allowDiscard, String exportName, Long leaseSeconds, String freeze, Double freezeTimeoutSeconds,
            Boolean keepWholeSnapshot, ReadLimits readLimits, Map<String, Target> targets, Boolean keepPartial,
            Integer copiesInFlight) {
    }

    /** Where a push job writes one disk (request), and what it wrote (response). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Target(String path, String format, String backingFile, String backingFormat, String uri,
            Long bytesWritten) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Progress(long doneBytes, long totalBytes, long bytesPerSecond, Long etaSeconds) {
    }

    public record RenewLease(Long leaseSeconds) {
    }

    public record UpdateJob(ReadLimits readLimits) {
    }

    public record Range(long offset, long length) {
    }

    public record DiscardRanges(String disk, List<Range> ranges) {
    }

    public record FinishJob(String outcome) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Checksum(String algorithm, int blockSize, String checksum, long sizeBytes) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Stats(long readableBytes, long readBytes, long discardedBytes, long clustersCopied, long tempBytes,
            long cbwDelayedWrites, long cbwDelayNanos, long frozenReadDelayedWrites, long frozenReadDelayNanos,
            Long checksumDoneBytes, Long checksumSizeBytes, Long readLimitBytesPerSecond, Long guestWriteP99Micros) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record JobDisk(String disk, String mode, String base, String fallbackReason, String export, String uri,
            String unixUri, String metaContext, Stats stats, Target target) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Job(String id, String state, String checkpoint, String failureReason, String createdAt,
            String leaseExpiresAt, String endedAt, String consistency, long frozenMillis, ReadLimits readLimits,
            List<JobDisk> disks, Progress progress) {
    }
}
