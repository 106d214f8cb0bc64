#!/usr/bin/env python3
"""Medians and ratios (fleeced / qsd) of a results file as a markdown table.

usage: report.py RESULTS.tsv
RESULTS.tsv lines: DAEMON <tab> METRIC <tab> ROUND <tab> VALUE  (DAEMON is qsd or fleeced)
"""
import statistics
import sys
from collections import defaultdict

METRICS = [
    # key, label, unit, better
    ("iops_nojob", "guest 4 KiB randwrite, no job (fio nbd, QD16)", "IOPS", "higher"),
    ("iops_first", "guest 4 KiB randwrite, job, first touch of each cluster", "IOPS", "higher"),
    ("iops_after", "guest 4 KiB randwrite, job, after the copies", "IOPS", "higher"),
    ("stall_gap_ms", "guest write stall while a job starts (largest gap)", "ms", "lower"),
    ("stall_base_ms", "  the same writer, no job started (baseline gap)", "ms", "lower"),
    ("stall_maxlat_ms", "  max single write latency in that run", "ms", "lower"),
    ("stall_inc_gap_ms", "guest write stall while an incremental job starts (largest gap)", "ms", "lower"),
    ("stall_add_gap_ms", "write gap while a checkpoint is created via the API", "ms", "lower"),
    ("stall_store_gap_ms", "max write gap while bitmaps are stored (fleeced: a store every second, writer flushing every STALL_FLUSH_MS; qsd: bitmap-add, it stores at close)", "ms", "lower"),
    ("stall_flush_base_ms", "  fleeced: the same flushing writer, no store (baseline)", "ms", "lower"),
    ("stall_store_out_ms", "  fleeced: max write gap overlapping no guest flush, a store every second", "ms", "lower"),
    ("stall_flush_base_out_ms", "  fleeced: the same, no store (baseline)", "ms", "lower"),
    ("job_start_ms", "  job start as seen by the client (QMP / REST)", "ms", "lower"),
    ("seqread_mibs", "fleece export sequential read (nbdcopy to null:)", "MiB/s", "higher"),
    ("randread_iops", "fleece export 4 KiB randread (fio nbd, QD16)", "IOPS", "higher"),
    ("map_full_s", "nbdinfo --map, fleece export of the sparse big disk", "s", "lower"),
    ("map_bitmap_s", "nbdinfo --map=qemu:dirty-bitmap, incremental job", "s", "lower"),
    ("rss_idle_mib", "RSS idle (VmRSS)", "MiB", "lower"),
    ("rss_load_mib", "RSS under load (max VmRSS sampled)", "MiB", "lower"),
]


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.3g" % v


def main():
    vals = defaultdict(list)
    rounds = set()
    for line in open(sys.argv[1]):
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 4:
            continue
        d, m, r, v = parts
        vals[(d, m)].append(float(v))
        rounds.add(r)
    print("| metric | unit | better | qsd (median) | fleeced (median) | fleeced / qsd | n (qsd/fleeced) |")
    print("|---|---|---|---:|---:|---:|---|")
    for key, label, unit, better in METRICS:
        q = vals.get(("qsd", key))
        f = vals.get(("fleeced", key))
        qm = statistics.median(q) if q else None
        fm = statistics.median(f) if f else None
        ratio = fmt(fm / qm) if qm and fm is not None else "n/a"
        print("| %s | %s | %s | %s | %s | %s | %d/%d |" % (
            label, unit, better, fmt(qm), fmt(fm), ratio, len(q or []), len(f or [])))


if __name__ == "__main__":
    main()
