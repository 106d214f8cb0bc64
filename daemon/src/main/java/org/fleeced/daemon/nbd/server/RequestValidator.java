package org.fleeced.daemon.nbd.server;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.fleeced.daemon.nbd.protocol.NbdCommand;
import org.fleeced.daemon.nbd.protocol.NbdCommandFlag;
import org.fleeced.daemon.nbd.protocol.NbdError;
import org.fleeced.daemon.nbd.protocol.NbdRequest;
import org.fleeced.daemon.nbd.protocol.NbdTransmissionFlag;
import org.fleeced.daemon.nbd.protocol.ReceivedBytes;
import org.fleeced.daemon.nbd.server.RequestVerdict.Accepted;
import org.fleeced.daemon.nbd.server.RequestVerdict.Rejected;

/**
 * Checks every request once, at the protocol edge (nbdkit's validate_request), so that nodes only
 * ever see requests that keep the {@code BlockNode} contract. In this order:
 *
 * <ol>
 *   <li>unknown command: EINVAL;</li>
 *   <li>WRITE or WRITE_ZEROES on an export that refuses writes, TRIM on a read-only one: EPERM
 *       (NBD proto "Error values": SHOULD);</li>
 *   <li>a command whose transmission flag was not advertised: EINVAL;</li>
 *   <li>an unknown flag, or one that does not apply to the command or was not advertised: EINVAL;</li>
 *   <li>FLUSH with an offset or length: EINVAL; a data command of length zero: EINVAL;</li>
 *   <li>READ or WRITE above the maximum payload: EINVAL (its payload was skipped);</li>
 *   <li>past the end (offset + length computed unsigned, overflow included): ENOSPC for WRITE and
 *       WRITE_ZEROES, EINVAL for the others;</li>
 *   <li>offset or length not a multiple of the minimum block size (a range may end at an unaligned
 *       export end): EINVAL.</li>
 * </ol>
 * TRIM, WRITE_ZEROES, CACHE and BLOCK_STATUS carry no payload and may be of any length.
 */
final class RequestValidator {
    private final TransmissionParameters parameters;
    private final long sizeBytes;

    RequestValidator(TransmissionParameters parameters) {
        this.parameters = parameters;
        this.sizeBytes = parameters.export().node().size();
    }

    /** {@code payload} is what came after the header: null when none came or it was too large to keep. */
    RequestVerdict validate(NbdRequest request, ReceivedBytes payload) {
        NbdCommand command = request.command();
        if (command == null || command == NbdCommand.RESIZE || command == NbdCommand.DISC) {
            return reject(NbdError.EINVAL, "unknown command " + request.type());
        }
        NbdExport export = parameters.export();
        if ((command == NbdCommand.WRITE || command == NbdCommand.WRITE_ZEROES) && export.refusesWrites()) {
            return reject(NbdError.EPERM, "export '" + export.name() + "' is read-only");
        }
        if (command == NbdCommand.TRIM && parameters.advertises(NbdTransmissionFlag.READ_ONLY)) {
            return reject(NbdError.EPERM, "export '" + export.name() + "' is read-only");
        }
        String unadvertised = unadvertised(command);
        if (unadvertised != null) {
            return reject(NbdError.EINVAL, command + " was not advertised: " + unadvertised);
        }
        String badFlag = badFlag(request, command);
        if (badFlag != null) {
            return reject(NbdError.EINVAL, badFlag);
        }
        if (command == NbdCommand.FLUSH) {
            return request.offset() != 0 || request.length() != 0
                    ? reject(NbdError.EINVAL, "FLUSH with an offset or length")
                    : new Accepted(0, List.of());
        }
        long length = request.length();
        List<SelectedContext> contexts = List.of();
        if (command == NbdCommand.BLOCK_STATUS) {
            contexts = parameters.contexts();
            if (request.has(NbdCommandFlag.PAYLOAD_LEN)) {
                ByteBuffer filter = payload == null ? null : payload.byteBuffer();
                if (filter == null || filter.remaining() < 12 || filter.remaining() % 4 != 0) {
                    return reject(NbdError.EINVAL, "BLOCK_STATUS payload must be a u64 length and context ids");
                }
                length = filter.getLong();
                contexts = filterContexts(filter);
                if (contexts == null) {
                    return reject(NbdError.EINVAL, "BLOCK_STATUS payload names a context that was not selected");
                }
            }
        }
        return checkRange(request, command, length, payload, contexts);
    }

    private RequestVerdict checkRange(NbdRequest request, NbdCommand command, long length, ReceivedBytes payload,
                                      List<SelectedContext> contexts) {
        if (length == 0) {
            return reject(NbdError.EINVAL, command + " of length zero");
        }
        int maxPayload = parameters.blockSize().maximumPayload();
        if ((command == NbdCommand.READ || command == NbdCommand.WRITE) && Long.compareUnsigned(length, maxPayload) > 0) {
            return reject(NbdError.EINVAL, command + " of " + Long.toUnsignedString(length)
                    + " bytes exceeds the maximum payload of " + maxPayload);
        }
        if (command == NbdCommand.WRITE && payload == null) {
            return reject(NbdError.EINVAL, "WRITE without a payload");
        }
        long offset = request.offset();
        if (Long.compareUnsigned(offset, sizeBytes) > 0 || Long.compareUnsigned(length, sizeBytes - offset) > 0) {
            NbdError error = command == NbdCommand.WRITE || command == NbdCommand.WRITE_ZEROES ? NbdError.ENOSPC : NbdError.EINVAL;
            return reject(error, command + " of [" + Long.toUnsignedString(offset) + ", +" + Long.toUnsignedString(length)
                    + ") is past the end of the export (" + sizeBytes + " bytes)");
        }
        int minimum = parameters.blockSize().minimum();
        boolean endsAtUnalignedEnd = offset + length == sizeBytes;
        if (offset % minimum != 0 || (length % minimum != 0 && !endsAtUnalignedEnd)) {
            return reject(NbdError.EINVAL, command + " at " + offset + " +" + length
                    + " is not aligned to the minimum block size " + minimum);
        }
        return new Accepted(length, contexts);
    }

    /** What is missing for this command, or null when it was advertised. */
    private String unadvertised(NbdCommand command) {
        return switch (command) {
            case FLUSH -> parameters.advertises(NbdTransmissionFlag.SEND_FLUSH) ? null : "SEND_FLUSH";
            case TRIM -> parameters.advertises(NbdTransmissionFlag.SEND_TRIM) ? null : "SEND_TRIM";
            case WRITE_ZEROES -> parameters.advertises(NbdTransmissionFlag.SEND_WRITE_ZEROES) ? null : "SEND_WRITE_ZEROES";
            case CACHE -> parameters.advertises(NbdTransmissionFlag.SEND_CACHE) ? null : "SEND_CACHE";
            case BLOCK_STATUS -> parameters.contexts().isEmpty() ? "no metadata context was selected" : null;
            default -> null;
        };
    }

    /** Why the flags are not acceptable for this command, or null when they are. */
    private String badFlag(NbdRequest request, NbdCommand command) {
        int allowed = 0;
        if (parameters.advertises(NbdTransmissionFlag.SEND_FUA)) {
            allowed |= NbdCommandFlag.FUA.mask();
        }
        switch (command) {
            case READ -> allowed |= parameters.advertises(NbdTransmissionFlag.SEND_DF) ? NbdCommandFlag.DF.mask() : 0;
            case WRITE_ZEROES -> allowed |= NbdCommandFlag.NO_HOLE.mask()
                    | (parameters.advertises(NbdTransmissionFlag.SEND_FAST_ZERO) ? NbdCommandFlag.FAST_ZERO.mask() : 0);
            case BLOCK_STATUS -> allowed |= NbdCommandFlag.REQ_ONE.mask()
                    | (parameters.advertises(NbdTransmissionFlag.BLOCK_STAT_PAYLOAD) ? NbdCommandFlag.PAYLOAD_LEN.mask() : 0);
            case WRITE -> allowed |= request.extended() ? NbdCommandFlag.PAYLOAD_LEN.mask() : 0;
            default -> {
            }
        }
        int unexpected = request.flags() & ~allowed;
        if (unexpected != 0) {
            return "flags 0x" + Integer.toHexString(unexpected) + " are not valid for " + command + " on this export";
        }
        if (command == NbdCommand.WRITE && request.extended() && !request.has(NbdCommandFlag.PAYLOAD_LEN)) {
            return "WRITE with extended headers needs PAYLOAD_LEN";
        }
        return null;
    }

    /** The selected contexts named by the ids left in {@code ids}, or null if one is not selected. */
    private List<SelectedContext> filterContexts(ByteBuffer ids) {
        List<SelectedContext> chosen = new ArrayList<>();
        while (ids.hasRemaining()) {
            int id = ids.getInt();
            SelectedContext match = parameters.contexts().stream().filter(c -> c.id() == id).findFirst().orElse(null);
            if (match == null) {
                return null;
            }
            if (!chosen.contains(match)) {
                chosen.add(match);
            }
        }
        return chosen;
    }

    private static Rejected reject(NbdError error, String message) {
        return new Rejected(error, message);
    }
}
