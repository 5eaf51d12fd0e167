#!/usr/bin/env python3
"""CPU time of a process by thread, for the ingest benchmark's per-request costs.

  cpu.py snapshot PID > FILE
      writes one line per thread: `NAME<TAB>TICKS` (utime + stime, in clock ticks)
  cpu.py per-request BEFORE AFTER REQUESTS
      prints the CPU microseconds per request spent by each kind of thread between the two
      snapshots (threads grouped by name, digits dropped: NIO-ELT-0-#0 and NIO-ELT-0-#1
      are one group), and the total
"""

import os
import re
import sys


def snapshot(pid):
    for tid in os.listdir("/proc/%s/task" % pid):
        try:
            with open("/proc/%s/task/%s/comm" % (pid, tid)) as comm:
                name = comm.read().strip()
            with open("/proc/%s/task/%s/stat" % (pid, tid)) as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            print("%s\t%s\t%d" % (tid, name, int(fields[11]) + int(fields[12])))
        except OSError:
            pass


def read(path):
    threads = {}
    with open(path) as lines:
        for line in lines:
            tid, name, ticks = line.rstrip("\n").split("\t")
            threads[tid] = (name, int(ticks))
    return threads


def per_request(before_path, after_path, requests):
    before, after = read(before_path), read(after_path)
    hertz = os.sysconf("SC_CLK_TCK")
    groups = {}
    for tid, (name, ticks) in after.items():
        spent = ticks - before.get(tid, (name, 0))[1]
        group = re.sub(r"[0-9]+", "N", name)
        groups[group] = groups.get(group, 0) + spent
    total = sum(groups.values())
    parts = ["%s %.1f" % (group, ticks / hertz * 1e6 / requests)
             for group, ticks in sorted(groups.items(), key=lambda item: -item[1]) if ticks > 0]
    print("%.1f us CPU per request (%s)" % (total / hertz * 1e6 / requests, ", ".join(parts)))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "snapshot":
        snapshot(sys.argv[2])
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "per-request":
        per_request(sys.argv[2], sys.argv[3], max(1, int(sys.argv[4])))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
