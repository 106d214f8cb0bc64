#!/usr/bin/env python3
"""Print 'IOPS MAX_CLAT_MS' of one direction (read|write) from a fio JSON output file.

fio's nbd engine prints notices ("fio: connected to NBD server") into the same output, so
everything outside the outermost JSON object is ignored.
usage: fiojson.py FILE read|write
"""
import json
import sys

s = open(sys.argv[1]).read()
j = json.loads(s[s.index("{"):s.rindex("}") + 1])
job = j["jobs"][0]
if job.get("error"):
    sys.exit("fio reported error %s" % job["error"])
d = job[sys.argv[2]]
if not d.get("total_ios"):
    sys.exit("fio did no %s I/O" % sys.argv[2])
print("%.1f %.3f" % (d["iops"], d["clat_ns"]["max"] / 1e6))
