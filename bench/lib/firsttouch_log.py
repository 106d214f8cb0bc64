#!/usr/bin/env python3
"""Write a fio v2 iolog: one 4 KiB write into each CLUSTER-sized cluster of SIZE bytes, in a
fixed pseudo-random order, so that every write is the first one into its cluster.
(fio's own blockalign= turns off its random map, and lfsr with blockalign does no I/O.)
usage: firsttouch_log.py SIZE CLUSTER FILENAME-IN-LOG OUT
"""
import random
import sys

size, cluster, fname, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
offs = [i * cluster for i in range(size // cluster)]
random.Random(8).shuffle(offs)
with open(out, "w") as f:
    f.write("fio version 2 iolog\n%s add\n%s open\n" % (fname, fname))
    for o in offs:
        f.write("%s write %d 4096\n" % (fname, o))
    f.write("%s close\n" % fname)
