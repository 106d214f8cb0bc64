package org.fleeced.daemon.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/** The JSON bodies of the disk and bitmap operations, as openapi.yaml names them. */
public final class DiskBodies {
    private DiskBodies() {
    }

    public record AttachDisk(String name, String path, String format, CreateImage create, GuestAgent guestAgent) {
    }

    /** The unix socket of a QEMU guest agent, through which jobs freeze the guest's file systems. */
    public record GuestAgent(String socket) {
    }

    public record CreateImage(Long sizeBytes, Integer clusterSize, String backingFile, String backingFormat,
            RestoreFrom restoreFrom, RestoreLimits restoreLimits) {
    }

    /** The backup an instant restore reads: a local image ({@code path}, {@code format}) or an NBD {@code uri}. */
    public record RestoreFrom(String path, String uri, String format) {
    }

    /** A restore stream's limits; an absent field keeps its value (its default at creation: 0, 4). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record RestoreLimits(Long bytesPerSecond, Integer inFlight) {
    }

    /** A disk's instant restore, as GET /v1/disks/{disk} shows it. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Restore(String state, long doneBytes, long totalBytes, long bytesPerSecond, long etaSeconds,
            String source, int retries, String lastError, RestoreLimits limits) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Export(String name, boolean readOnly, String uri, String unixUri) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Disk(String name, String path, String format, long sizeBytes, Long clusterSize, Long allocatedBytes,
            String allocatedBytesError, List<Export> exports, List<String> jobs, List<Bitmap> bitmaps,
            GuestAgent guestAgent, IoLimits ioLimits, Restore restore) {
    }

    /** A guest's limits on its writable export; 0 for none. */
    public record IoLimits(long bytesPerSecond, long opsPerSecond, long burstBytes) {
    }

    public record UpdateDisk(IoLimits ioLimits, RestoreLimits restoreLimits) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Bitmap(String name, String state, long granularity, boolean persistent, boolean enabled,
            long dirtyBytes, String reason) {
    }

    public record CreateBitmap(String name, Long granularity, Boolean persistent, Boolean enabled) {
    }

    public record MergeBitmaps(List<String> sources) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Outcome(String result, String warning) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Plan(String disk, String mode, String base, long readBytes, long fullReadBytes, long sizeBytes) {
    }
}
