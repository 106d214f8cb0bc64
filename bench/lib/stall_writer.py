#!/usr/bin/python3
"""Guest write stall while a fleecing job starts (needs /usr/bin/python3 with libnbd's `nbd`).

usage: stall_writer.py URI [--duration S] [--start-at S] [--depth N] [--bs B] [--flush-ms N] --cmd SHELL-CMD

Keeps DEPTH random BS-sized writes in flight on the writable export URI for DURATION
seconds and timestamps every completion (CLOCK_MONOTONIC). At START-AT seconds a thread
runs SHELL-CMD (the command that starts the fleecing job) and records when it began and
ended. With --flush-ms N it also sends an NBD FLUSH every N ms (one in flight at a time), as a
guest's file system does (ext4 commits every 5 s): fleeced's background bitmap stores ride on
those syncs of the image. Prints one JSON object:
  gap_ms        the largest interval without any completed write that overlaps the job
                start (from the command's start to 0.5 s after it returned): the stall
  max_gap_ms    the largest interval without completions over the whole run
  max_lat_ms    the largest single write latency over the whole run
  start_ms      how long SHELL-CMD took (job start as seen by the client)
  writes, rc    completed writes, SHELL-CMD's exit status
  flushes       completed flushes (with --flush-ms); flush_max_ms the slowest of them
  max_gap_outside_flush_ms  the largest gap that overlaps no flush in flight: what the daemon's
                own work (a bitmap store, ...) costs beyond the guest's flushes
"""
import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time

import nbd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("uri")
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--start-at", type=float, default=1.5)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--bs", type=int, default=4096)
    ap.add_argument("--flush-ms", type=float, default=0, help="send a FLUSH every N ms (0: never)")
    ap.add_argument("--cmd", required=True)
    ap.add_argument("--dump", help="write every gap > 10 ms (start and length, s from the run's start) here")
    a = ap.parse_args()

    h = nbd.NBD()
    h.connect_uri(a.uri)
    size = h.get_size()
    nblocks = size // a.bs
    rnd = random.Random(42)
    buf = nbd.Buffer.from_bytearray(bytearray(os.urandom(a.bs)))

    done = []      # completion times
    flushes = []   # flush latencies
    flush_spans = []   # (issued, completed) of every flush
    flushing = [False]
    lat_max = [0.0]
    inflight = [0]
    job = {}

    def starter():
        job["t0"] = time.monotonic()
        job["rc"] = subprocess.run(a.cmd, shell=True).returncode
        job["t1"] = time.monotonic()

    def make_cb(t_issue):
        def cb(err):
            t = time.monotonic()
            done.append(t)
            if t - t_issue > lat_max[0]:
                lat_max[0] = t - t_issue
            inflight[0] -= 1
            if err.value if hasattr(err, "value") else err:
                print("stall_writer: write failed: %r" % (err,), file=sys.stderr)
            return 1
        return cb

    def flush_cb(t_issue):
        def cb(err):
            flushes.append(time.monotonic() - t_issue)
            flush_spans.append((t_issue, time.monotonic()))
            flushing[0] = False
            if err.value if hasattr(err, "value") else err:
                print("stall_writer: flush failed: %r" % (err,), file=sys.stderr)
            return 1
        return cb

    t_start = time.monotonic()
    t_end = t_start + a.duration
    next_flush = t_start + a.flush_ms / 1000.0
    th = threading.Thread(target=starter)
    started = False
    while True:
        now = time.monotonic()
        if not started and now >= t_start + a.start_at:
            th.start()
            started = True
        if a.flush_ms > 0 and now >= next_flush and now < t_end and not flushing[0]:
            flushing[0] = True
            next_flush = now + a.flush_ms / 1000.0
            h.aio_flush(completion=flush_cb(now))
        while inflight[0] < a.depth and now < t_end:
            off = rnd.randrange(nblocks) * a.bs
            inflight[0] += 1
            h.aio_pwrite(buf, off, completion=make_cb(time.monotonic()))
        if now >= t_end and inflight[0] == 0 and not flushing[0]:
            break
        h.poll(20)
    th.join()
    h.shutdown()

    t0, t1 = job["t0"], job["t1"] + 0.5
    times = [t_start] + done + [max(t_end, done[-1] if done else t_end)]
    gap = 0.0
    max_gap = 0.0
    for x, y in zip(times, times[1:]):
        max_gap = max(max_gap, y - x)
        if y >= t0 and x <= t1:
            gap = max(gap, y - x)
    outside = 0.0
    for x, y in zip(times, times[1:]):
        if not any(fy >= x and fx <= y for fx, fy in flush_spans):
            outside = max(outside, y - x)
    if a.dump:
        with open(a.dump, "w") as f:
            f.write("job start %.3f end %.3f\n" % (job["t0"] - t_start, job["t1"] - t_start))
            for x, y in zip(times, times[1:]):
                if y - x > 0.010:
                    f.write("gap at %.3f len %.1f ms\n" % (x - t_start, (y - x) * 1000))
    print(json.dumps({
        "gap_ms": round(gap * 1000, 3),
        "max_gap_ms": round(max_gap * 1000, 3),
        "max_lat_ms": round(lat_max[0] * 1000, 3),
        "start_ms": round((job["t1"] - job["t0"]) * 1000, 3),
        "writes": len(done),
        "rc": job["rc"],
        "flushes": len(flushes),
        "flush_max_ms": round(max(flushes, default=0) * 1000, 3),
        "max_gap_outside_flush_ms": round(outside * 1000, 3),
    }))
    return 0 if job["rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
