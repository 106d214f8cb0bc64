package org.fleeced.daemon.host;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

/**
 * Every {@code reason} code the daemon sends in a problem body, with its HTTP status and the
 * errno it carries: the one table that turns a refusal into a problem. openapi.yaml lists the
 * same codes as the enum of {@code Problem.reason}, one sentence each; a test fails when the two
 * disagree.
 *
 * <p>A code belongs to exactly one status. Most carry one errno; the codes of block-layer
 * failures carry the errno the block layer raised, from the short list given here.
 */
public enum ProblemReason {
    INVALID_REQUEST(400, "EINVAL"),
    BASE_AMBIGUOUS(400, "EINVAL"),
    INVALID_JOB(400, "EINVAL"),
    RANGE_OUTSIDE_DISK(400, "EINVAL"),
    RAW_HAS_NO_BACKING(400, "EINVAL"),
    FORMAT_REQUIRED(400, "EINVAL"),
    BACKING_FORMAT_REQUIRED(400, "EINVAL"),
    TOO_LARGE(400, "EFBIG"),
    TOKEN_REQUIRED(401, "EPERM"),
    TOKEN_INVALID(401, "EPERM"),
    PATH_NOT_ALLOWED(403, "EPERM"),
    RESERVED_PATH(403, "EPERM"),
    BACKING_OUTSIDE(403, "EACCES"),
    NOT_PERMITTED(403, "EPERM", "EROFS", "EACCES"),
    NO_SUCH_PATH(404, "ENOENT"),
    DISK_UNKNOWN(404, "ENOENT"),
    BITMAP_UNKNOWN(404, "ENOENT"),
    JOB_UNKNOWN(404, "ENOENT"),
    DISK_NOT_IN_JOB(404, "ENOENT"),
    IMAGE_NOT_FOUND(404, "ENOENT"),
    METHOD_NOT_ALLOWED(405, "EINVAL"),
    NAME_IN_USE(409, "EBUSY"),
    EXPORT_NAME_IN_USE(409, "EBUSY"),
    IMAGE_EXISTS(409, "EBUSY"),
    IMAGE_IN_USE(409, "EBUSY"),
    TARGET_EXISTS(409, "EBUSY"),
    PUSH_JOB(409, "EBUSY"),
    CHECKPOINT_EXISTS(409, "EBUSY"),
    JOB_RUNNING(409, "EBUSY"),
    RESTORING(409, "EBUSY"),
    SNAPSHOT_INCOMPLETE(409, "EACCES"),
    JOB_ENDED(409, "EBUSY"),
    DISK_IN_USE(409, "EBUSY"),
    BODY_TOO_LARGE(413, "EINVAL"),
    NEW_DISK(422, "EINVAL"),
    BASE_UNKNOWN(422, "EINVAL"),
    BASE_INCONSISTENT(422, "EINVAL"),
    BASE_TARGET_UNKNOWN(422, "EINVAL"),
    GRANULARITY(422, "EINVAL"),
    PERSISTENCE(422, "EINVAL"),
    BITMAP_REFUSED(422, "EINVAL"),
    TEMP_DIRECTORY(422, "EINVAL"),
    IMAGE_INVALID(422, "EUCLEAN"),
    NOT_POSSIBLE(422, "EINVAL", "ENOTSUP", "EOVERFLOW"),
    IO_ERROR(500, "EIO", "ENOMEM"),
    INTERNAL_ERROR(500, "EIO"),
    GUEST_AGENT(502, "EIO"),
    TARGET_UNREACHABLE(502, "EIO"),
    STARTING(503, "EAGAIN"),
    SHUTTING_DOWN(503, "ESHUTDOWN"),
    TEMP_SPACE(507, "ENOSPC"),
    NO_SPACE(507, "ENOSPC");

    private final int status;
    private final List<String> errnos;

    ProblemReason(int status, String errno, String... alsoErrnos) {
        this.status = status;
        this.errnos = Stream.concat(Stream.of(errno), Arrays.stream(alsoErrnos)).toList();
    }

    /** The HTTP status every problem with this reason has. */
    public int status() {
        return status;
    }

    /** The errno a problem with this reason carries unless the block layer named another. */
    public String errno() {
        return errnos.getFirst();
    }

    /** Every errno a problem with this reason may carry, {@link #errno()} first. */
    public List<String> errnos() {
        return errnos;
    }
}
