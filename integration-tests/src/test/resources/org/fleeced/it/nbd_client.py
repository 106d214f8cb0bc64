#!/usr/bin/python3
"""A scripted libnbd client for the scenario tests.

    nbd_client.py URI [--context NAME] OP...

OP is one of
    flags                     the export's flags: readOnly, canTrim
    write:OFF:LEN:BYTE        pwrite LEN bytes of BYTE at OFF
    read:OFF:LEN[:BYTE]       pread LEN bytes at OFF; with BYTE, check every byte is BYTE
    trim:OFF:LEN              TRIM (a discard, on a fleece export)
    flush                     FLUSH: every write acked before it is durable
    dirty:RAW:LIST            copy every extent of the --context bitmap whose bit 0 is set into the
                              sparse file RAW and list them as "offset length" lines in LIST
    ackwrites:SEED:COUNT:FROM:TO
                              write COUNT distinct 4 KiB blocks of blocks [FROM, TO) in a seeded random
                              order, each filled with the 8-byte tag SEED << 32 | sequence number, and
                              print each one once the server acked it
    hold:N:OFF                issue N async 64 KiB reads from OFF, say "holding", then wait on stdin

Each OP prints one JSON line: {"op": ..., "ok": true} or {"op": ..., "ok": false, "errno": "EIO",
"message": the server's structured error message}. libnbd only shows that message in its debug
log, so the client listens to its own debug callback.
"""
import json
import random
import re
import sys

import nbd

MESSAGE = re.compile(r"structured error server message: (.*)")
last_message = [None]
CONTEXT = [None]


def debug(context, text):
    m = MESSAGE.search(text)
    if m:
        last_message[0] = m.group(1)


def emit(**fields):
    print(json.dumps(fields), flush=True)


def run(h, op):
    kind, *args = op.split(":")
    if kind == "flags":
        return {"ok": True, "readOnly": bool(h.is_read_only()), "canTrim": bool(h.can_trim())}
    if kind == "write":
        off, length, byte = int(args[0]), int(args[1]), int(args[2], 0)
        h.pwrite(bytes([byte]) * length, off)
    elif kind == "read":
        off, length = int(args[0]), int(args[1])
        data = h.pread(length, off)
        if len(args) > 2:
            want = int(args[2], 0)
            bad = next((i for i, b in enumerate(data) if b != want), None)
            if bad is not None:
                return {"ok": False, "errno": "MISMATCH", "message": "byte %d at offset %d, wanted %d" % (data[bad], off + bad, want)}
    elif kind == "trim":
        h.trim(int(args[1]), int(args[0]))
    elif kind == "flush":
        h.flush()
    elif kind == "dirty":
        return {"ok": True, "dirtyBytes": copy_dirty(h, args[0], args[1])}
    elif kind == "ackwrites":
        ack_writes(h, *(int(a) for a in args))
    elif kind == "hold":
        n, off = int(args[0]), int(args[1])
        for i in range(n):
            h.aio_pread(nbd.Buffer(65536), off + i * 65536)
        emit(op=op, ok=True, holding=h.aio_in_flight())
        sys.stdin.read()
    else:
        raise SystemExit("unknown op " + op)
    return {"ok": True}


def copy_dirty(h, raw, listing):
    size = h.get_size()
    extents = []
    off = 0
    while off < size:
        end = [off]

        def collect(context, offset, entries, err):
            if context != CONTEXT[0]:
                return 0
            pos = offset
            for i in range(0, len(entries), 2):
                if entries[i + 1] & 1:
                    extents.append((pos, entries[i]))
                pos += entries[i]
            end[0] = pos
            return 0

        h.block_status(min(size - off, 1 << 30), off, collect)
        if end[0] <= off:
            raise SystemExit("block status made no progress at %d" % off)
        off = end[0]
    total = 0
    with open(raw, "wb") as out, open(listing, "w") as lst:
        out.truncate(size)
        for start, length in extents:
            pos = start
            while pos < start + length:
                n = min(4 << 20, start + length - pos)
                out.seek(pos)
                out.write(h.pread(n, pos))
                pos += n
            lst.write("%d %d\n" % (start, length))
            total += length
    return total


def ack_writes(h, seed, count, first, end):
    order = random.Random(seed).sample(range(first, end), min(count, end - first))
    for seq, block in enumerate(order):
        tag = seed << 32 | seq
        h.pwrite(tag.to_bytes(8, "little") * 512, block * 4096)
        emit(op="ack", block=block, tag=tag)


def main():
    argv = sys.argv[1:]
    uri = argv.pop(0)
    h = nbd.NBD()
    h.set_debug_callback(debug)
    h.set_debug(True)
    if argv and argv[0] == "--context":
        argv.pop(0)
        CONTEXT[0] = argv.pop(0)
        h.add_meta_context(CONTEXT[0])
    h.connect_uri(uri)
    for op in argv:
        last_message[0] = None
        try:
            result = run(h, op)
        except nbd.Error as e:
            result = {"ok": False, "errno": e.errno, "message": last_message[0], "error": e.string}
        emit(op=op, **result)
    h.shutdown()


if __name__ == "__main__":
    main()
